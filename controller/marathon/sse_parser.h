#pragma once
// Pure incremental parser for Server-Sent Events as Marathon sends them: CRLF or LF
// line ends, `event:` and `data:` fields, `:` comments, a blank line dispatching the
// event, bare blank lines as keep-alives. Bytes may be split anywhere across feed()
// calls. Not thread-safe.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mlb::controller {

struct SseEvent {
  std::string type;  // the `event:` field ("message" when absent)
  // One entry per JSON document: one per `data:` line, and a data line holding
  // several documents back to back (`{...}{...}`) is split into them.
  std::vector<std::string> data;
};

class SseParser {
 public:
  // An event bigger than this is dropped (counted in oversized()); Marathon's heavy
  // deployment events can be megabytes, so the default is generous.
  explicit SseParser(size_t max_event_bytes = 64u << 20) : max_event_bytes_(max_event_bytes) {}

  // Feeds bytes; calls `on_event` for each complete event in order.
  void feed(std::string_view bytes, const std::function<void(SseEvent&&)>& on_event);

  size_t keepalives() const { return keepalives_; }
  size_t oversized() const { return oversized_; }

 private:
  void line(std::string_view l, const std::function<void(SseEvent&&)>& on_event);

  size_t max_event_bytes_;
  std::string partial_;  // bytes of an incomplete line
  bool pending_cr_ = false;
  SseEvent current_;
  size_t current_bytes_ = 0;
  bool has_fields_ = false;
  bool dropping_ = false;
  size_t keepalives_ = 0;
  size_t oversized_ = 0;
};

// Splits a data payload holding one or more concatenated JSON values (objects or
// arrays, optionally separated by whitespace) into the values. Text outside any
// value is returned as its own trimmed piece so the caller can report it.
std::vector<std::string> splitJsonDocuments(std::string_view payload);

}  // namespace mlb::controller

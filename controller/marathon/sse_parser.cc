#include "controller/marathon/sse_parser.h"

namespace mlb::controller {

std::vector<std::string> splitJsonDocuments(std::string_view p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) {
      ++i;
    }
    if (i >= p.size()) {
      break;
    }
    if (p[i] != '{' && p[i] != '[') {
      // Not a JSON container: return the rest as one piece.
      size_t end = p.find_last_not_of(" \t\r\n");
      out.emplace_back(p.substr(i, end + 1 - i));
      break;
    }
    int depth = 0;
    bool in_string = false, escaped = false;
    size_t start = i;
    for (; i < p.size(); ++i) {
      char c = p[i];
      if (in_string) {
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          in_string = false;
        }
        continue;
      }
      if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          ++i;
          break;
        }
      }
    }
    out.emplace_back(p.substr(start, i - start));
  }
  return out;
}

void SseParser::feed(std::string_view bytes, const std::function<void(SseEvent&&)>& on_event) {
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {  // the LF of a CRLF whose CR ended the previous line
        start = i + 1;
        continue;
      }
    }
    if (c == '\r' || c == '\n') {
      if (partial_.empty()) {
        line(bytes.substr(start, i - start), on_event);
      } else {
        partial_.append(bytes.substr(start, i - start));
        std::string l;
        l.swap(partial_);
        line(l, on_event);
      }
      pending_cr_ = (c == '\r');
      start = i + 1;
    }
  }
  if (start < bytes.size()) {
    if (partial_.size() + (bytes.size() - start) > max_event_bytes_) {
      // A runaway line: drop it and the event it belongs to.
      partial_.clear();
      dropping_ = true;
      return;
    }
    partial_.append(bytes.substr(start));
  }
}

void SseParser::line(std::string_view l, const std::function<void(SseEvent&&)>& on_event) {
  if (l.empty()) {
    if (dropping_) {
      dropping_ = false;
      ++oversized_;
    } else if (has_fields_) {
      if (current_.type.empty()) {
        current_.type = "message";
      }
      on_event(std::move(current_));
    } else {
      ++keepalives_;
    }
    current_ = SseEvent{};
    current_bytes_ = 0;
    has_fields_ = false;
    return;
  }
  if (dropping_ || l.front() == ':') {
    return;
  }
  size_t colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value =
      colon == std::string_view::npos ? std::string_view{} : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  current_bytes_ += l.size();
  if (current_bytes_ > max_event_bytes_) {
    dropping_ = true;
    current_ = SseEvent{};
    return;
  }
  if (field == "event") {
    current_.type = std::string(value);
    has_fields_ = true;
  } else if (field == "data") {
    for (auto& doc : splitJsonDocuments(value)) {
      current_.data.push_back(std::move(doc));
    }
    has_fields_ = true;
  }
  // id:, retry: and unknown fields are ignored (Marathon sends none).
}

}  // namespace mlb::controller

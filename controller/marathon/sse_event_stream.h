#pragma once
// The Marathon event stream (GET /v2/events) delivered event by event as the bytes
// arrive. Marathon sends the stream with `Connection: close` and no chunked encoding,
// so a generic HTTP client that waits for the end of the body is useless here; this
// transport reads the socket directly (Boost.Asio, TLS optional).
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controller/marathon/http_message.h"
#include "controller/marathon/sse_parser.h"

namespace mlb::controller {

struct SseStreamConfig {
  // Returns the base URL to connect to ("http://host:port") at each (re)connect.
  std::function<std::string()> base_url;
  // The Authorization header value at each connect ("" for none): a DC/OS token may
  // be refreshed between connects.
  std::function<std::string()> authorization;
  std::vector<std::string> event_types;
  std::chrono::milliseconds connect_timeout{5000};
  // No byte (event or keep-alive) for this long: the stream is dead, reconnect.
  // Marathon sends a keep-alive every 10 s.
  std::chrono::milliseconds silence_timeout{30000};
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{30000};
  std::string ca_cert;
  bool insecure_tls = false;
  // The configured Marathon URLs: a redirect keeps the credentials only to these.
  std::vector<std::string> marathon_urls;
};

struct SseCallbacks {
  // A stream is open (after the 200 headers): the caller must do a full resync, as
  // Marathon replays nothing.
  std::function<void(const std::string& url)> on_connected;
  std::function<void(const SseEvent&)> on_event;
  // The stream ended or could not be opened; `reason` says why. Reconnects follow.
  std::function<void(const std::string& reason)> on_disconnected;
  // Any byte arrived (for the seconds-since-last-byte gauge).
  std::function<void()> on_bytes;
};

class SseEventStream {
 public:
  virtual ~SseEventStream() = default;
  // Starts the reader thread; it reconnects with jittered backoff until stop().
  virtual void start() = 0;
  // Stops and joins the thread; returns within about a second.
  virtual void stop() = 0;
};
using SseEventStreamPtr = std::unique_ptr<SseEventStream>;

SseEventStreamPtr makeAsioSseEventStream(SseStreamConfig config, SseCallbacks callbacks);

}  // namespace mlb::controller

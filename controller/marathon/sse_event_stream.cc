#include "controller/marathon/sse_event_stream.h"

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "common/backoff.h"
#include "common/strings.h"
#include "controller/marathon/http_connection.h"

namespace mlb::controller {
namespace {

// One connection attempt's outcome.
struct Outcome {
  std::string reason;
  std::string redirect;  // Location of a 3xx, to follow once
  bool connected = false;
};

class AsioSseEventStream : public SseEventStream {
 public:
  AsioSseEventStream(SseStreamConfig config, SseCallbacks callbacks)
      : config_(std::move(config)), cb_(std::move(callbacks)) {}
  ~AsioSseEventStream() override { stop(); }

  void start() override {
    stopping_ = false;
    thread_ = std::thread([this] { runLoop(); });
  }

  void stop() override {
    stopping_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (conn_ != nullptr) {
        conn_->cancel();
      }
    }
    if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  void runLoop() {
    common::Backoff backoff(config_.backoff_base, config_.backoff_max,
                            static_cast<uint64_t>(std::random_device{}()));
    while (!stopping_) {
      std::string url = config_.base_url();
      Outcome o = connectOnce(url, /*redirects_left=*/1);
      if (stopping_) {
        break;
      }
      if (o.connected) {
        backoff.reset();
      }
      if (cb_.on_disconnected) {
        cb_.on_disconnected(o.reason);
      }
      auto delay = backoff.next();
      auto until = std::chrono::steady_clock::now() + delay;
      while (!stopping_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  std::string eventsTarget(const std::string& base_target) const {
    std::string t = base_target;
    while (!t.empty() && t.back() == '/') {
      t.pop_back();
    }
    t += "/v2/events?plan-format=light";
    for (const auto& type : config_.event_types) {
      t += "&event_type=" + type;
    }
    return t;
  }

  // stop() reaches the attempt's connection while it runs.
  struct Registration {
    AsioSseEventStream& s;
    Registration(AsioSseEventStream& owner, HttpConnection& c) : s(owner) {
      std::lock_guard<std::mutex> lock(s.mu_);
      s.conn_ = &c;
      if (s.stopping_) {
        c.cancel();
      }
    }
    ~Registration() {
      std::lock_guard<std::mutex> lock(s.mu_);
      s.conn_ = nullptr;
    }
  };

  Outcome connectOnce(const std::string& url, int redirects_left, bool send_auth = true) {
    Outcome out;
    const auto u = parseUrl(url);
    if (!u) {
      out.reason = "bad URL " + url;
      return out;
    }
    HttpConnection c(*u, TlsSettings{config_.ca_cert, config_.insecure_tls});
    Registration registration(*this, c);
    if (common::Status st = c.open(config_.connect_timeout); !st) {
      out.reason = st.error().message;
      return out;
    }
    if (common::Status st = c.send(request(*u, send_auth), config_.connect_timeout); !st) {
      out.reason = "send request to " + url + ": " + st.error().message;
      return out;
    }
    return readStream(c, url, redirects_left, send_auth);
  }

  std::string request(const ParsedUrl& u, bool send_auth) const {
    std::string req = "GET " + eventsTarget(u.target) + " HTTP/1.1\r\nHost: " + u.host + ":" +
                      u.port + "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n";
    if (config_.authorization && send_auth) {
      if (std::string auth = config_.authorization(); !auth.empty()) {
        req += "Authorization: " + auth + "\r\n";
      }
    }
    return req + "\r\n";
  }

  // Reads the response head, then streams the body into the parser.
  Outcome readStream(HttpConnection& c, const std::string& url, int redirects_left,
                     bool send_auth) {
    Outcome out;
    auto on_read = [this](size_t) {
      if (cb_.on_bytes) {
        cb_.on_bytes();
      }
    };
    ReadResult last;
    auto head = readResponseHead(c, std::chrono::steady_clock::now() + config_.connect_timeout,
                                 last, on_read);
    if (!head) {
      out.reason = last.end == ReadEnd::More ? head.error().message : readFailure(last, false);
      return out;
    }
    if (auto done = checkHead(*head, url, redirects_left, send_auth)) {
      return *done;
    }
    out.connected = true;
    if (cb_.on_connected) {
      cb_.on_connected(url);
    }
    SseParser parser;
    auto deliver = [&](std::string_view data) {
      parser.feed(data, [&](SseEvent&& e) {
        if (cb_.on_event) {
          cb_.on_event(e);
        }
      });
    };
    deliver(head->rest);
    std::array<char, 16384> chunk{};
    while (last.end == ReadEnd::More && !stopping_) {
      last = c.readSome(chunk.data(), chunk.size(), config_.silence_timeout);
      if (last.bytes > 0) {
        on_read(last.bytes);
        deliver(std::string_view(chunk.data(), last.bytes));
      }
    }
    out.reason = stopping_ ? "stopped" : readFailure(last, true);
    return out;
  }

  // The response head: nothing when it opens the event stream; otherwise the outcome
  // (an error, or a standby's redirect to the leader, followed once).
  std::optional<Outcome> checkHead(const ResponseHead& response, const std::string& url,
                                   int redirects_left, bool send_auth) {
    Outcome out;
    const std::string_view head = response.fields;
    const int status = response.status;
    if (status >= 300 && status < 400) {
      const std::string location = responseHeader(head, "location");
      if (redirects_left > 0 && !location.empty()) {
        // The credentials go only to a configured Marathon, never over http once https.
        const auto pos = location.find("/v2/events");
        const std::string base = pos == std::string::npos ? location : location.substr(0, pos);
        const RedirectPolicy policy = planRedirect(url, base, config_.marathon_urls);
        if (policy == RedirectPolicy::Refuse) {
          out.reason = "redirect from " + url + " to " + base + " refused (https to http)";
          return out;
        }
        return connectOnce(base, redirects_left - 1,
                           send_auth && policy == RedirectPolicy::FollowWithCredentials);
      }
      out.reason = "HTTP " + std::to_string(status) + " without a usable redirect";
      return out;
    }
    if (status != 200) {
      out.reason = "HTTP " + std::to_string(status) + " from " + url + "/v2/events";
      return out;
    }
    const std::string ctype = responseHeader(head, "content-type");
    if (ctype.find("text/event-stream") == std::string::npos) {
      out.reason = "not an event stream (Content-Type: " + ctype + ")";
      return out;
    }
    return std::nullopt;
  }

  std::string readFailure(const ReadResult& r, bool in_body) const {
    switch (r.end) {
      case ReadEnd::TimedOut:
        return in_body ? "silent for " + std::to_string(config_.silence_timeout.count()) +
                             " ms (no event, no keep-alive)"
                       : "no response headers within timeout";
      case ReadEnd::Closed:
        return "stream closed by Marathon";
      case ReadEnd::Cancelled:
        return "stopped";
      case ReadEnd::Failed:
      case ReadEnd::More:
        break;
    }
    return "read: " + r.error;
  }

  SseStreamConfig config_;
  SseCallbacks cb_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  HttpConnection* conn_ = nullptr;  // the attempt running now (under mu_)
};

}  // namespace

SseEventStreamPtr makeAsioSseEventStream(SseStreamConfig config, SseCallbacks callbacks) {
  return std::make_unique<AsioSseEventStream>(std::move(config), std::move(callbacks));
}

}  // namespace mlb::controller

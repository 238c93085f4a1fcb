// Boost 1.74's Asio misses <utility> under C++20.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
// clang-format on

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "common/backoff.h"
#include "common/strings.h"
#include "controller/marathon/asio_tls.h"
#include "controller/marathon/sse_event_stream.h"

namespace mlb::controller {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

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
      if (io_ != nullptr) {
        io_->stop();
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

  // Runs `op` (which starts async work and sets `done`) until it completes or the
  // deadline passes; on timeout the socket is closed.
  template <typename Start>
  bool runWithDeadline(asio::io_context& io, tcp::socket& sock, std::chrono::milliseconds d,
                       Start start, boost::system::error_code& ec) {
    bool done = false;
    start(done, ec);
    io.restart();
    auto until = std::chrono::steady_clock::now() + d;
    while (!done && !stopping_) {
      auto now = std::chrono::steady_clock::now();
      if (now >= until) {
        boost::system::error_code ignored;
        sock.close(ignored);
        io.restart();
        io.run_for(std::chrono::milliseconds(100));
        ec = asio::error::timed_out;
        return false;
      }
      io.run_for(std::min<std::chrono::steady_clock::duration>(until - now,
                                                               std::chrono::milliseconds(250)));
      if (io.stopped() && !done) {
        io.restart();
      }
    }
    return done && !ec;
  }

  // One connection: its io_context, the (maybe TLS) stream and the parsed URL.
  struct Connection {
    asio::io_context& io;
    asio::ssl::stream<tcp::socket>& stream;
    const ParsedUrl& u;
    tcp::socket& sock() { return stream.next_layer(); }
  };

  // stop() reaches the attempt's io_context while it runs.
  struct IoRegistration {
    AsioSseEventStream& s;
    IoRegistration(AsioSseEventStream& owner, asio::io_context& io) : s(owner) {
      std::lock_guard<std::mutex> lock(s.mu_);
      s.io_ = &io;
    }
    ~IoRegistration() {
      std::lock_guard<std::mutex> lock(s.mu_);
      s.io_ = nullptr;
    }
  };

  Outcome connectOnce(const std::string& url, int redirects_left, bool send_auth = true) {
    Outcome out;
    ParsedUrl u;
    if (!parseUrl(url, u)) {
      out.reason = "bad URL " + url;
      return out;
    }
    asio::io_context io;
    IoRegistration registration(*this, io);
    asio::ssl::context ssl_ctx(asio::ssl::context::tls_client);
    if (u.tls) {
      configureTlsClient(ssl_ctx, config_.insecure_tls, config_.ca_cert);
    }
    asio::ssl::stream<tcp::socket> stream(io, ssl_ctx);
    Connection c{io, stream, u};
    boost::system::error_code ec;
    if (!open(c, ec)) {
      out.reason = "connect " + url + ": " + ec.message();
      return out;
    }
    if (!send(c, request(u, send_auth), ec)) {
      out.reason = "send request to " + url + ": " + ec.message();
      return out;
    }
    return readStream(c, url, redirects_left, send_auth);
  }

  // Resolve, connect, and the TLS handshake, each within the connect timeout.
  bool open(Connection& c, boost::system::error_code& ec) {
    tcp::resolver resolver(c.io);
    tcp::resolver::results_type endpoints;
    bool ok = runWithDeadline(
        c.io, c.sock(), config_.connect_timeout,
        [&](bool& done, boost::system::error_code& e) {
          resolver.async_resolve(
              c.u.host, c.u.port,
              [&](const boost::system::error_code& r, tcp::resolver::results_type res) {
                e = r;
                endpoints = res;
                done = true;
              });
        },
        ec);
    if (ok) {
      ok = runWithDeadline(
          c.io, c.sock(), config_.connect_timeout,
          [&](bool& done, boost::system::error_code& e) {
            asio::async_connect(c.sock(), endpoints,
                                [&](const boost::system::error_code& r, const tcp::endpoint&) {
                                  e = r;
                                  done = true;
                                });
          },
          ec);
    }
    if (ok && c.u.tls) {
      prepareTlsStream(c.stream, c.u.host, config_.insecure_tls);
      ok = runWithDeadline(
          c.io, c.sock(), config_.connect_timeout,
          [&](bool& done, boost::system::error_code& e) {
            c.stream.async_handshake(asio::ssl::stream_base::client,
                                     [&](const boost::system::error_code& r) {
                                       e = r;
                                       done = true;
                                     });
          },
          ec);
    }
    return ok;
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

  bool send(Connection& c, const std::string& req, boost::system::error_code& ec) {
    return runWithDeadline(
        c.io, c.sock(), config_.connect_timeout,
        [&](bool& done, boost::system::error_code& e) {
          auto h = [&](const boost::system::error_code& r, size_t) {
            e = r;
            done = true;
          };
          if (c.u.tls) {
            asio::async_write(c.stream, asio::buffer(req), h);
          } else {
            asio::async_write(c.sock(), asio::buffer(req), h);
          }
        },
        ec);
  }

  // One read within `timeout`; `n` bytes landed in `chunk`.
  bool readSome(Connection& c, char* chunk, size_t size, size_t& n,
                std::chrono::milliseconds timeout, boost::system::error_code& ec) {
    return runWithDeadline(
        c.io, c.sock(), timeout,
        [&](bool& done, boost::system::error_code& e) {
          auto h = [&](const boost::system::error_code& r, size_t got) {
            e = r;
            n = got;
            done = true;
          };
          if (c.u.tls) {
            c.stream.async_read_some(asio::buffer(chunk, size), h);
          } else {
            c.sock().async_read_some(asio::buffer(chunk, size), h);
          }
        },
        ec);
  }

  // Reads until the end of the headers, then streams the body into the parser.
  Outcome readStream(Connection& c, const std::string& url, int redirects_left, bool send_auth) {
    Outcome out;
    std::string buf;
    char chunk[16384];
    SseParser parser;
    auto deliver = [&](std::string_view data) {
      parser.feed(data, [&](SseEvent&& e) {
        if (cb_.on_event) {
          cb_.on_event(e);
        }
      });
    };
    bool in_body = false;
    boost::system::error_code ec;
    while (!stopping_) {
      size_t n = 0;
      const bool ok = readSome(c, chunk, sizeof chunk, n,
                               in_body ? config_.silence_timeout : config_.connect_timeout, ec);
      if (n > 0 && cb_.on_bytes) {
        cb_.on_bytes();
      }
      if (in_body && n > 0) {
        deliver(std::string_view(chunk, n));
      } else if (n > 0) {
        buf.append(chunk, n);
        const size_t header_end = buf.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          if (auto done = checkHead(buf, header_end, url, redirects_left, send_auth)) {
            return *done;
          }
          in_body = true;
          out.connected = true;
          if (cb_.on_connected) {
            cb_.on_connected(url);
          }
          if (buf.size() > header_end + 4) {
            deliver(std::string_view(buf).substr(header_end + 4));
          }
          buf.clear();
        } else if (buf.size() > 65536) {
          out.reason = "response headers too large";
          return out;
        }
      }
      if (!ok) {
        out.reason = readFailure(ec, in_body);
        return out;
      }
    }
    out.reason = "stopped";
    return out;
  }

  // The response head: nothing when it opens the event stream; otherwise the outcome
  // (an error, or a standby's redirect to the leader, followed once).
  std::optional<Outcome> checkHead(const std::string& buf, size_t header_end,
                                   const std::string& url, int redirects_left, bool send_auth) {
    Outcome out;
    const std::string_view head = std::string_view(buf).substr(0, header_end);
    const std::string status_line = buf.substr(0, buf.find("\r\n"));
    const int status = status_line.size() > 12 ? std::atoi(status_line.c_str() + 9) : 0;
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

  std::string readFailure(const boost::system::error_code& ec, bool in_body) const {
    if (ec == asio::error::timed_out) {
      return in_body ? "silent for " + std::to_string(config_.silence_timeout.count()) +
                           " ms (no event, no keep-alive)"
                     : "no response headers within timeout";
    }
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      return "stream closed by Marathon";
    }
    return "read: " + ec.message();
  }

  SseStreamConfig config_;
  SseCallbacks cb_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  asio::io_context* io_ = nullptr;
};

}  // namespace

SseEventStreamPtr makeAsioSseEventStream(SseStreamConfig config, SseCallbacks callbacks) {
  return std::make_unique<AsioSseEventStream>(std::move(config), std::move(callbacks));
}

}  // namespace mlb::controller

// Boost 1.74's Asio misses <utility> under C++20.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
// clang-format on

#include <array>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <optional>
#include <vector>

#include "common/strings.h"
#include "controller/marathon/asio_http_get.h"
#include "controller/marathon/asio_tls.h"
#include "controller/marathon/http_chunked.h"
#include "controller/marathon/sse_event_stream.h"

namespace mlb::controller {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using common::Error;

// host:port as an endpoint when host is an IPv4 or IPv6 literal.
std::optional<tcp::endpoint> literalEndpoint(const std::string& host, const std::string& port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  unsigned value = 0;
  const auto [end, perr] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec || perr != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return std::nullopt;
  }
  return tcp::endpoint(address, static_cast<unsigned short>(value));
}

// One GET over one connection: the exchange as a chain of async steps on one thread
// (resolve, connect, TLS, write, headers, body), bounded by one deadline.
class BulkGet {
 public:
  BulkGet(const std::string& base_url, const ParsedUrl& u, const HttpGetOptions& options)
      : base_url_(base_url),
        u_(u),
        options_(options),
        tls_ctx_(tlsContext(u, options)),
        stream_(io_, u.tls ? *tls_ctx_ : plainConnectionContext()),
        sock_(stream_.next_layer()),
        timer_(io_) {}

  common::Result<HttpGetResponse> run(const std::string& request) {
    request_ = request;
    timer_.expires_at(std::chrono::steady_clock::now() + options_.timeout);
    timer_.async_wait([this](const boost::system::error_code& e) {
      if (!e) {
        timed_out_ = true;
        boost::system::error_code ignored;
        sock_.close(ignored);
      }
    });
    start();
    try {
      io_.run();
    } catch (const std::exception& e) {
      return Error{common::ErrorCode::Unavailable, base_url_ + ": " + e.what()};
    }
    return result();
  }

 private:
  static std::optional<asio::ssl::context> tlsContext(const ParsedUrl& u,
                                                      const HttpGetOptions& options) {
    std::optional<asio::ssl::context> ctx;
    if (u.tls) {
      ctx.emplace(asio::ssl::context::tls_client);
      configureTlsClient(*ctx, options.insecure_tls, options.ca_cert);
    }
    return ctx;
  }

  void fail(const std::string& what, const boost::system::error_code& e) {
    error_ = what + ": " + (timed_out_ ? std::string("timed out") : e.message());
    timer_.cancel();
  }

  // An address literal needs no resolver (whose first use spawns a thread per
  // io_context: per request here).
  void start() {
    if (auto literal = literalEndpoint(u_.host, u_.port)) {
      connectTo(std::vector<tcp::endpoint>{*literal});
      return;
    }
    resolver_.async_resolve(
        u_.host, u_.port,
        [this](const boost::system::error_code& e, const tcp::resolver::results_type& results) {
          if (e) {
            fail("resolve " + u_.host, e);
            return;
          }
          connectTo(results);
        });
  }

  template <typename Endpoints>
  void connectTo(const Endpoints& endpoints) {
    asio::async_connect(sock_, endpoints,
                        [this](const boost::system::error_code& ce, const tcp::endpoint&) {
                          if (ce) {
                            fail("connect " + base_url_, ce);
                          } else if (u_.tls) {
                            handshake();
                          } else {
                            sendRequest();
                          }
                        });
  }

  void handshake() {
    prepareTlsStream(stream_, u_.host, options_.insecure_tls);
    stream_.async_handshake(asio::ssl::stream_base::client,
                            [this](const boost::system::error_code& he) {
                              if (he) {
                                fail("TLS handshake with " + base_url_, he);
                                return;
                              }
                              sendRequest();
                            });
  }

  void sendRequest() {
    auto done = [this](const boost::system::error_code& e, size_t) {
      if (e) {
        fail("send request to " + base_url_, e);
        return;
      }
      readHead();
    };
    if (u_.tls) {
      asio::async_write(stream_, asio::buffer(request_), done);
    } else {
      asio::async_write(sock_, asio::buffer(request_), done);
    }
  }

  template <typename Handler>
  void readSome(Handler handler) {
    if (u_.tls) {
      stream_.async_read_some(asio::buffer(buf_), handler);
    } else {
      sock_.async_read_some(asio::buffer(buf_), handler);
    }
  }

  void readHead() {
    readSome([this](const boost::system::error_code& e, size_t n) {
      head_.append(buf_.data(), n);
      const size_t end = head_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (e || head_.size() > 65536) {
          fail("read response headers from " + base_url_, e);
        } else {
          readHead();
        }
        return;
      }
      takeHead(end);
      if ((content_length_ != std::string::npos && raw_.size() >= content_length_) ||
          (e && !raw_.empty())) {
        timer_.cancel();
      } else if (e) {
        fail("read body from " + base_url_, e);
      } else {
        readBody();
      }
    });
  }

  // Status and the headers that frame the body; the body bytes read with them.
  void takeHead(size_t end) {
    resp_.status = std::atoi(head_.c_str() + head_.find(' ') + 1);
    const std::string_view fields = std::string_view(head_).substr(0, end);
    if (const std::string v = responseHeader(fields, "content-length"); !v.empty()) {
      content_length_ = std::strtoull(v.c_str(), nullptr, 10);
    }
    chunked_ = common::toLower(responseHeader(fields, "transfer-encoding")).find("chunked") !=
               std::string::npos;
    resp_.location = responseHeader(fields, "location");
    // Content-Length is the peer's word: reserve no more than an answer may hold.
    const size_t expect =
        content_length_ != std::string::npos ? std::min(content_length_, options_.max_body) : 0;
    raw_.reserve(std::max(expect, size_t{1} << 20) + options_.spare_capacity);
    raw_.append(head_, end + 4, std::string::npos);
  }

  void readBody() {
    readSome([this](const boost::system::error_code& e, size_t n) {
      raw_.append(buf_.data(), n);
      if (raw_.size() > options_.max_body) {
        error_ = "answer larger than " + std::to_string(options_.max_body) + " bytes";
        timer_.cancel();
      } else if (e) {
        if (e == asio::error::eof || e == asio::ssl::error::stream_truncated) {
          timer_.cancel();  // close-delimited body complete
        } else {
          fail("read body from " + base_url_, e);
        }
      } else if (bodyComplete()) {
        timer_.cancel();
      } else {
        readBody();
      }
    });
  }

  bool bodyComplete() const {
    return (content_length_ != std::string::npos && raw_.size() >= content_length_) ||
           (chunked_ && raw_.size() >= 5 && raw_.compare(raw_.size() - 5, 5, "0\r\n\r\n") == 0);
  }

  common::Result<HttpGetResponse> result() {
    if (timed_out_ && error_.empty()) {
      error_ = base_url_ + ": no complete answer within " +
               std::to_string(options_.timeout.count()) + " ms";
    }
    if (!error_.empty()) {
      return Error{common::ErrorCode::Unavailable, error_};
    }
    if (content_length_ != std::string::npos && raw_.size() < content_length_) {
      return Error{common::ErrorCode::Unavailable, base_url_ + ": answer truncated (" +
                                                       std::to_string(raw_.size()) + " of " +
                                                       std::to_string(content_length_) + " bytes)"};
    }
    if (!chunked_) {
      if (content_length_ != std::string::npos && raw_.size() > content_length_) {
        raw_.resize(content_length_);
      }
    } else if (common::Status st = decodeChunkedInPlace(raw_); !st) {
      return Error::invalidData(base_url_ + ": " + st.error().message);
    }
    resp_.body = std::move(raw_);
    return std::move(resp_);
  }

  const std::string& base_url_;
  const ParsedUrl& u_;
  const HttpGetOptions& options_;
  asio::io_context io_;
  std::optional<asio::ssl::context> tls_ctx_;
  asio::ssl::stream<tcp::socket> stream_;
  tcp::socket& sock_;
  asio::steady_timer timer_;
  tcp::resolver resolver_{io_};
  std::string request_;
  bool timed_out_ = false;
  std::string error_;
  std::string head_;
  std::string raw_;  // body bytes as received (decoded at the end when chunked)
  std::array<char, 1 << 16> buf_{};
  size_t content_length_ = std::string::npos;
  bool chunked_ = false;
  HttpGetResponse resp_;
};

}  // namespace

common::Result<HttpGetResponse> asioHttpGet(const std::string& base_url, const std::string& target,
                                            const std::vector<std::string>& headers,
                                            const HttpGetOptions& options) {
  ParsedUrl u;
  if (!parseUrl(base_url, u)) {
    return Error::invalidArgument("bad URL " + base_url);
  }
  std::string path = u.target;
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  path += target;
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + u.host + ":" + u.port +
                        "\r\nAccept: application/json\r\nConnection: close\r\n";
  for (const auto& h : headers) {
    request += h + "\r\n";
  }
  request += "\r\n";
  return BulkGet(base_url, u, options).run(request);
}

}  // namespace mlb::controller

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

#include "controller/marathon/asio_tls.h"
#include "controller/marathon/http_connection.h"

namespace mlb::controller {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using common::Error;

namespace {

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

std::optional<asio::ssl::context> tlsContext(const ParsedUrl& u, const TlsSettings& tls) {
  std::optional<asio::ssl::context> ctx;
  if (u.tls) {
    ctx.emplace(asio::ssl::context::tls_client);
    configureTlsClient(*ctx, tls.insecure, tls.ca_cert);
  }
  return ctx;
}

}  // namespace

struct HttpConnection::Impl {
  ParsedUrl u;
  TlsSettings tls;
  asio::io_context io;
  std::optional<asio::ssl::context> tls_ctx;
  asio::ssl::stream<tcp::socket> stream;
  asio::steady_timer timer{io};
  std::atomic<bool> cancelled{false};
  bool timed_out = false;

  Impl(ParsedUrl url, TlsSettings settings)
      : u(std::move(url)),
        tls(std::move(settings)),
        tls_ctx(tlsContext(u, tls)),
        stream(io, u.tls ? *tls_ctx : plainConnectionContext()) {}

  tcp::socket& sock() { return stream.next_layer(); }

  // Starts one asynchronous operation (`start(done)` sets `done` in its handler)
  // and runs it to completion, to the deadline (the socket is closed, so the
  // operation ends with an error and `timed_out`) or to cancel().
  template <typename Start>
  void run(std::chrono::milliseconds timeout, Start start) {
    timed_out = false;
    if (cancelled) {
      return;
    }
    bool done = false;
    timer.expires_after(timeout);
    timer.async_wait([this](const boost::system::error_code& e) {
      if (!e) {
        timed_out = true;
        boost::system::error_code ignored;
        sock().close(ignored);
      }
    });
    start(done);
    io.restart();
    while (!done && !cancelled && io.run_one() > 0) {
    }
    timer.cancel();
  }

  std::string failure(const boost::system::error_code& e) const {
    if (cancelled) {
      return "cancelled";
    }
    return timed_out ? std::string("timed out") : e.message();
  }

  template <typename Endpoints>
  boost::system::error_code connect(const Endpoints& endpoints, std::chrono::milliseconds timeout) {
    boost::system::error_code ec = asio::error::operation_aborted;
    run(timeout, [&](bool& done) {
      asio::async_connect(sock(), endpoints,
                          [&](const boost::system::error_code& e, const tcp::endpoint&) {
                            ec = e;
                            done = true;
                          });
    });
    return ec;
  }

  boost::system::error_code resolveAndConnect(std::chrono::milliseconds timeout) {
    if (auto literal = literalEndpoint(u.host, u.port)) {
      return connect(std::vector<tcp::endpoint>{*literal}, timeout);
    }
    tcp::resolver resolver(io);
    tcp::resolver::results_type endpoints;
    boost::system::error_code ec = asio::error::operation_aborted;
    run(timeout, [&](bool& done) {
      resolver.async_resolve(
          u.host, u.port, [&](const boost::system::error_code& e, tcp::resolver::results_type r) {
            ec = e;
            endpoints = std::move(r);
            done = true;
          });
    });
    if (ec) {
      resolver.cancel();
      return ec;
    }
    return connect(endpoints, timeout);
  }

  boost::system::error_code handshake(std::chrono::milliseconds timeout) {
    prepareTlsStream(stream, u.host, tls.insecure);
    boost::system::error_code ec = asio::error::operation_aborted;
    run(timeout, [&](bool& done) {
      stream.async_handshake(asio::ssl::stream_base::client,
                             [&](const boost::system::error_code& e) {
                               ec = e;
                               done = true;
                             });
    });
    return ec;
  }
};

HttpConnection::HttpConnection(ParsedUrl url, TlsSettings tls)
    : impl_(std::make_unique<Impl>(std::move(url), std::move(tls))) {}

HttpConnection::~HttpConnection() = default;

common::Status HttpConnection::open(std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  if (auto ec = impl_->resolveAndConnect(timeout)) {
    return Error{common::ErrorCode::Unavailable, "connect: " + impl_->failure(ec)};
  }
  if (!impl_->u.tls) {
    return {};
  }
  const auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - start);
  if (auto ec = impl_->handshake(std::max(left, std::chrono::milliseconds(1)))) {
    return Error{common::ErrorCode::Unavailable, "TLS handshake: " + impl_->failure(ec)};
  }
  return {};
}

common::Status HttpConnection::send(const std::string& data, std::chrono::milliseconds timeout) {
  boost::system::error_code ec = asio::error::operation_aborted;
  impl_->run(timeout, [&](bool& done) {
    auto handler = [&](const boost::system::error_code& e, size_t) {
      ec = e;
      done = true;
    };
    if (impl_->u.tls) {
      asio::async_write(impl_->stream, asio::buffer(data), handler);
    } else {
      asio::async_write(impl_->sock(), asio::buffer(data), handler);
    }
  });
  if (ec) {
    return Error{common::ErrorCode::Unavailable, impl_->failure(ec)};
  }
  return {};
}

ReadResult HttpConnection::readSome(char* buf, size_t size, std::chrono::milliseconds timeout) {
  ReadResult r;
  boost::system::error_code ec = asio::error::operation_aborted;
  impl_->run(timeout, [&](bool& done) {
    auto handler = [&](const boost::system::error_code& e, size_t n) {
      ec = e;
      r.bytes = n;
      done = true;
    };
    if (impl_->u.tls) {
      impl_->stream.async_read_some(asio::buffer(buf, size), handler);
    } else {
      impl_->sock().async_read_some(asio::buffer(buf, size), handler);
    }
  });
  if (!ec) {
    return r;
  }
  if (impl_->cancelled) {
    r.end = ReadEnd::Cancelled;
  } else if (impl_->timed_out) {
    r.end = ReadEnd::TimedOut;
  } else if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    r.end = ReadEnd::Closed;
  } else {
    r.end = ReadEnd::Failed;
    r.error = ec.message();
  }
  return r;
}

void HttpConnection::cancel() {
  impl_->cancelled = true;
  impl_->io.stop();
}

common::Result<ResponseHead> readResponseHead(HttpConnection& c, std::chrono::milliseconds timeout,
                                              ReadResult& last,
                                              const std::function<void(size_t)>& on_read) {
  std::string buf;
  std::array<char, 16384> chunk{};
  for (;;) {
    last = c.readSome(chunk.data(), chunk.size(), timeout);
    if (on_read && last.bytes > 0) {
      on_read(last.bytes);
    }
    buf.append(chunk.data(), last.bytes);
    if (const size_t end = buf.find("\r\n\r\n"); end != std::string::npos) {
      ResponseHead head;
      head.fields = buf.substr(0, end);
      head.rest = buf.substr(end + 4);
      const size_t sp = head.fields.find(' ');
      head.status = sp == std::string::npos ? 0 : std::atoi(head.fields.c_str() + sp + 1);
      return head;
    }
    if (last.end != ReadEnd::More) {
      return Error{common::ErrorCode::Unavailable, "no complete response head"};
    }
    if (buf.size() > 65536) {
      return Error{common::ErrorCode::InvalidData, "response headers too large"};
    }
  }
}

}  // namespace mlb::controller

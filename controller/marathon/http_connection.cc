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
  tcp::resolver resolver{io};
  std::atomic<bool> cancelled{false};
  bool timed_out = false;   // the operation run() ran last ended at its deadline
  uint64_t generation = 0;  // of the operation run() runs: an older one's timer does nothing

  Impl(ParsedUrl url, TlsSettings settings)
      : u(std::move(url)),
        tls(std::move(settings)),
        tls_ctx(tlsContext(u, tls)),
        stream(io, u.tls ? *tls_ctx : plainConnectionContext()) {}

  tcp::socket& sock() { return stream.next_layer(); }

  // Starts one asynchronous operation (`start(done)` sets `done` in its handler) and
  // runs it to completion, to `deadline` (the socket is closed, so the operation ends
  // with an error and `timed_out`) or to cancel(). With `abandon`, it returns at the
  // deadline without waiting for the operation (a name lookup, which closing the
  // socket cannot end): its handler must then own what it writes to.
  template <typename Start>
  void run(Deadline deadline, Start start, bool abandon = false) {
    timed_out = false;
    if (cancelled) {
      return;
    }
    const uint64_t op = ++generation;
    bool done = false;
    timer.expires_at(deadline);
    timer.async_wait([this, op](const boost::system::error_code& e) {
      if (!e && op == generation) {
        timed_out = true;
        boost::system::error_code ignored;
        resolver.cancel();
        sock().close(ignored);
      }
    });
    start(done);
    io.restart();
    while (!done && !cancelled && !(abandon && timed_out) && io.run_one() > 0) {
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
  boost::system::error_code connect(const Endpoints& endpoints, Deadline deadline) {
    boost::system::error_code ec = asio::error::operation_aborted;
    run(deadline, [&](bool& done) {
      asio::async_connect(sock(), endpoints,
                          [&](const boost::system::error_code& e, const tcp::endpoint&) {
                            ec = e;
                            done = true;
                          });
    });
    return ec;
  }

  // The lookup's outcome, shared with its handler (which may outlive run()).
  struct Lookup {
    bool done = false;
    boost::system::error_code ec = asio::error::operation_aborted;
    tcp::resolver::results_type endpoints;
  };

  common::Status resolveAndConnect(Deadline deadline) {
    if (auto literal = literalEndpoint(u.host, u.port)) {
      if (auto ec = connect(std::vector<tcp::endpoint>{*literal}, deadline)) {
        return Error{common::ErrorCode::Unavailable,
                     "connect " + u.host + ":" + u.port + ": " + failure(ec)};
      }
      return {};
    }
    auto lookup = std::make_shared<Lookup>();
    run(
        deadline,
        [&](bool& done) {
          resolver.async_resolve(
              u.host, u.port,
              [lookup, &done, this, op = generation](const boost::system::error_code& e,
                                                     tcp::resolver::results_type r) {
                lookup->ec = e;
                lookup->endpoints = std::move(r);
                lookup->done = true;
                if (op == generation) {
                  done = true;
                }
              });
        },
        /*abandon=*/true);
    if (!lookup->done || lookup->ec) {
      return Error{common::ErrorCode::Unavailable,
                   "resolve " + u.host + ": " + failure(lookup->ec)};
    }
    if (auto ec = connect(lookup->endpoints, deadline)) {
      return Error{common::ErrorCode::Unavailable,
                   "connect " + u.host + ":" + u.port + ": " + failure(ec)};
    }
    return {};
  }

  boost::system::error_code handshake(Deadline deadline) {
    prepareTlsStream(stream, u.host, tls.insecure);
    boost::system::error_code ec = asio::error::operation_aborted;
    run(deadline, [&](bool& done) {
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
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  if (common::Status st = impl_->resolveAndConnect(deadline); !st) {
    return st;
  }
  if (!impl_->u.tls) {
    return {};
  }
  if (auto ec = impl_->handshake(deadline)) {
    return Error{common::ErrorCode::Unavailable,
                 "TLS handshake with " + impl_->u.host + ": " + impl_->failure(ec)};
  }
  return {};
}

common::Status HttpConnection::send(const std::string& data, std::chrono::milliseconds timeout) {
  boost::system::error_code ec = asio::error::operation_aborted;
  impl_->run(std::chrono::steady_clock::now() + timeout, [&](bool& done) {
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
  if (ec || impl_->timed_out) {
    return Error{common::ErrorCode::Unavailable, impl_->failure(ec)};
  }
  return {};
}

ReadResult HttpConnection::readSome(char* buf, size_t size, std::chrono::milliseconds timeout) {
  ReadResult r;
  boost::system::error_code ec = asio::error::operation_aborted;
  impl_->run(std::chrono::steady_clock::now() + timeout, [&](bool& done) {
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
  // The deadline closed the socket: whatever came with it, the connection is over.
  if (impl_->cancelled) {
    r.end = ReadEnd::Cancelled;
  } else if (impl_->timed_out) {
    r.end = ReadEnd::TimedOut;
  } else if (!ec) {
    r.end = ReadEnd::More;
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

common::Result<ResponseHead> readResponseHead(HttpConnection& c, Deadline deadline,
                                              ReadResult& last,
                                              const std::function<void(size_t)>& on_read) {
  std::string buf;
  std::array<char, 16384> chunk{};
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    last = c.readSome(chunk.data(), chunk.size(), std::max(left, std::chrono::milliseconds(1)));
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

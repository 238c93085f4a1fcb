#include "cli/plain_http_get.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "controller/marathon/http_chunked.h"
#include "controller/marathon/http_message.h"

namespace mlb::cli {
namespace {

using Clock = std::chrono::steady_clock;
using common::Error;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int msLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on `fd` until the deadline. False on timeout or error.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, msLeft(deadline)) == 1;
}

common::Result<int> connectTo(const controller::ParsedUrl& u, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &res); rc != 0) {
    return Error{common::ErrorCode::Unavailable, u.host + ": " + ::gai_strerror(rc)};
  }
  std::string last = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      continue;
    }
    const bool now = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    int err = now ? 0 : errno;
    if (err == EINPROGRESS && waitFor(fd, POLLOUT, deadline)) {
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err == 0) {
      ::freeaddrinfo(res);
      return fd;
    }
    last = err == EINPROGRESS ? "timed out" : std::strerror(err);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return Error{common::ErrorCode::Unavailable, u.host + ":" + u.port + ": " + last};
}

common::Status sendAll(int fd, const std::string& data, Clock::time_point deadline) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EINTR || (errno == EAGAIN && waitFor(fd, POLLOUT, deadline)))) {
      continue;
    } else {
      return Error{common::ErrorCode::Io, "send: " + std::string(std::strerror(errno))};
    }
  }
  return {};
}

common::Result<std::string> readAll(int fd, Clock::time_point deadline, size_t max) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > max) {
        return Error::invalidData("answer larger than " + std::to_string(max) + " bytes");
      }
    } else if (n == 0) {
      return out;
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN || !waitFor(fd, POLLIN, deadline)) {
      return Error{common::ErrorCode::Io,
                   errno == EAGAIN ? "timed out" : "recv: " + std::string(std::strerror(errno))};
    }
  }
}

common::Result<HttpGetReply> parseReply(std::string raw) {
  const size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos || raw.size() < 12) {
    return Error::invalidData("not an HTTP/1.x answer");
  }
  HttpGetReply reply;
  reply.status = std::atoi(raw.c_str() + 9);
  const std::string head = raw.substr(0, end);
  reply.body = raw.substr(end + 4);
  if (controller::responseHeader(head, "transfer-encoding").find("chunked") != std::string::npos) {
    // (the decoder fails on a body that ends before its last chunk)
    if (auto st = controller::decodeChunkedInPlace(reply.body); !st) {
      return st.error();
    }
    return reply;
  }
  // A connection closed early is a short body, not a complete one.
  const std::string length = controller::responseHeader(head, "content-length");
  if (!length.empty() && length != std::to_string(reply.body.size())) {
    return Error::invalidData("the answer ended after " + std::to_string(reply.body.size()) +
                              " of " + length + " bytes");
  }
  return reply;
}

}  // namespace

common::Result<HttpGetReply> plainHttpGet(const std::string& url, int timeout_ms, size_t max_body) {
  auto u = controller::parseUrl(url);
  if (!u) {
    return Error::invalidArgument(url + ": not an http URL");
  }
  if (u->tls) {
    return Error::invalidArgument(url +
                                  ": https is not read here; save the answer with curl "
                                  "and lint the file");
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto fd = connectTo(*u, deadline);
  if (!fd) {
    return fd.error();
  }
  Fd sock(*fd);
  const std::string request = "GET " + u->target + " HTTP/1.1\r\nHost: " + u->host + ":" + u->port +
                              "\r\nAccept: application/json\r\nConnection: close\r\n\r\n";
  if (auto st = sendAll(sock.get(), request, deadline); !st) {
    return st.error();
  }
  auto raw = readAll(sock.get(), deadline, max_body);
  if (!raw) {
    return raw.error();
  }
  return parseReply(std::move(*raw));
}

}  // namespace mlb::cli

// The SSE transport over real loopback sockets, against a server that writes the
// stream exactly as Marathon does: `Connection: close`, no chunked encoding, CRLF.
#include "controller/marathon/sse_event_stream.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace mlb::controller {
namespace {

using namespace std::chrono_literals;

class RawServer {
 public:
  RawServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~RawServer() { ::close(fd_); }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Accepts one connection and returns it with the request read.
  int acceptOne(std::string* request = nullptr) {
    int c = ::accept(fd_, nullptr, nullptr);
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      req.append(buf, static_cast<size_t>(n));
    }
    if (request) {
      *request = req;
    }
    return c;
  }
  static void send(int c, const std::string& s) { (void)!::write(c, s.data(), s.size()); }

 private:
  int fd_;
  int port_ = 0;
};

const char* kHeaders =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream;charset=utf-8\r\n"
    "Connection: close\r\nCache-Control: no-cache, no-store, must-revalidate\r\n\r\n";

struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<SseEvent> events;
  std::vector<std::string> connected;
  std::vector<std::string> disconnected;
  bool waitEvents(size_t n, std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, d, [&] { return events.size() >= n; });
  }
  SseCallbacks callbacks() {
    SseCallbacks cb;
    cb.on_connected = [this](const std::string& u) {
      std::lock_guard<std::mutex> l(mu);
      connected.push_back(u);
      cv.notify_all();
    };
    cb.on_event = [this](const SseEvent& e) {
      std::lock_guard<std::mutex> l(mu);
      events.push_back(e);
      cv.notify_all();
    };
    cb.on_disconnected = [this](const std::string& r) {
      std::lock_guard<std::mutex> l(mu);
      disconnected.push_back(r);
      cv.notify_all();
    };
    return cb;
  }
};

TEST(SseEventStream, DeliversEachEventAsItArrivesOnAnOpenCloseDelimitedStream) {
  RawServer server;
  Recorder rec;
  SseStreamConfig cfg;
  cfg.base_url = [&] { return server.url(); };
  cfg.event_types = {"status_update_event"};
  cfg.authorization = [] { return std::string("Basic dTpw"); };
  auto stream = makeAsioSseEventStream(cfg, rec.callbacks());
  stream->start();
  std::string request;
  int c = server.acceptOne(&request);
  EXPECT_NE(request.find("GET /v2/events?plan-format=light&event_type=status_update_event"),
            std::string::npos);
  EXPECT_NE(request.find("Accept: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(request.find("Authorization: Basic dTpw\r\n"), std::string::npos);
  RawServer::send(c, kHeaders);
  for (int i = 0; i < 5; ++i) {
    // The next event is written only once the previous one was delivered: a
    // transport that buffered until the connection closes would stall here.
    RawServer::send(
        c, "event: status_update_event\r\ndata: {\"n\":" + std::to_string(i) + "}\r\n\r\n");
    ASSERT_TRUE(rec.waitEvents(static_cast<size_t>(i + 1), 2s)) << "event " << i;
    RawServer::send(c, "\r");  // Jetty's keep-alive, in two writes
    RawServer::send(c, "\n");
  }
  {
    std::lock_guard<std::mutex> l(rec.mu);
    EXPECT_EQ(rec.events[4].data, std::vector<std::string>{"{\"n\":4}"});
    EXPECT_TRUE(rec.disconnected.empty());  // still the same open stream
    EXPECT_EQ(rec.connected.size(), 1u);
  }
  ::close(c);
  stream->stop();
}

TEST(SseEventStream, FollowsTheStandbyRedirectToTheLeader) {
  RawServer standby, leader;
  Recorder rec;
  SseStreamConfig cfg;
  cfg.base_url = [&] { return standby.url(); };
  auto stream = makeAsioSseEventStream(cfg, rec.callbacks());
  stream->start();
  int s = standby.acceptOne();
  RawServer::send(s, "HTTP/1.1 302 Found\r\nLocation: " + leader.url() +
                         "/v2/events?plan-format=light\r\nContent-Length: 0\r\n\r\n");
  int l = leader.acceptOne();
  RawServer::send(l, kHeaders);
  RawServer::send(l, "event: api_post_event\r\ndata: {}\r\n\r\n");
  ASSERT_TRUE(rec.waitEvents(1, 2s));
  {
    std::lock_guard<std::mutex> lock(rec.mu);
    ASSERT_EQ(rec.connected.size(), 1u);
    EXPECT_EQ(rec.connected[0], leader.url());
  }
  ::close(s);
  ::close(l);
  stream->stop();
}

TEST(SseEventStream, SilentStreamIsDroppedAndReconnected) {
  RawServer server;
  Recorder rec;
  SseStreamConfig cfg;
  cfg.base_url = [&] { return server.url(); };
  cfg.silence_timeout = 300ms;
  cfg.backoff_base = 10ms;
  auto stream = makeAsioSseEventStream(cfg, rec.callbacks());
  stream->start();
  int c1 = server.acceptOne();
  RawServer::send(c1, kHeaders);  // then nothing at all
  int c2 = server.acceptOne();    // the reconnect
  RawServer::send(c2, kHeaders);
  {
    std::unique_lock<std::mutex> lock(rec.mu);
    ASSERT_TRUE(rec.cv.wait_for(lock, 2s, [&] { return rec.connected.size() >= 2; }));
    ASSERT_FALSE(rec.disconnected.empty());
    EXPECT_NE(rec.disconnected[0].find("silent"), std::string::npos);
  }
  ::close(c1);
  ::close(c2);
  stream->stop();
}

TEST(SseEventStream, NonStreamAnswerIsReported) {
  RawServer server;
  Recorder rec;
  SseStreamConfig cfg;
  cfg.base_url = [&] { return server.url(); };
  cfg.backoff_base = 1000ms;
  auto stream = makeAsioSseEventStream(cfg, rec.callbacks());
  stream->start();
  int c = server.acceptOne();
  RawServer::send(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/html\r\n\r\n<html>");
  {
    std::unique_lock<std::mutex> lock(rec.mu);
    ASSERT_TRUE(rec.cv.wait_for(lock, 2s, [&] { return !rec.disconnected.empty(); }));
    EXPECT_NE(rec.disconnected[0].find("405"), std::string::npos);
  }
  ::close(c);
  stream->stop();
}

}  // namespace
}  // namespace mlb::controller

#include "controller/marathon/asio_http_get.h"

namespace mlb::controller {
namespace {

// Serves one canned answer on a thread; with `keep_open`, holds the connection until
// the client closes it (at most 5 s).
std::thread serveOnce(RawServer& server, std::string answer, bool keep_open = false) {
  return std::thread([&server, answer, keep_open] {
    int c = server.acceptOne();
    RawServer::send(c, answer);
    if (keep_open) {
      pollfd p{c, POLLIN, 0};
      char byte;
      while (::poll(&p, 1, 5000) > 0 && ::read(c, &byte, 1) > 0) {
      }
    }
    ::close(c);
  });
}

TEST(AsioHttpGet, ContentLengthChunkedAndCloseDelimitedBodies) {
  RawServer server;
  HttpGetOptions o;
  o.spare_capacity = 64;
  {
    auto t = serveOnce(server, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"apps\":[]}");
    auto r = asioHttpGet(server.url(), "/v2/apps?embed=apps.tasks", {"Authorization: x"}, o);
    t.join();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"apps\":[]}");
    EXPECT_GE(r->body.capacity(), r->body.size() + 64);
  }
  {
    auto t = serveOnce(server,
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\n{\"app\r\n6\r\ns\":[]}\r\n0\r\n\r\n");
    auto r = asioHttpGet(server.url(), "/v2/apps", {}, o);
    t.join();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "{\"apps\":[]}");
  }
  {
    auto t = serveOnce(server, "HTTP/1.0 503 Service Unavailable\r\n\r\n<html>503</html>");
    auto r = asioHttpGet(server.url(), "/v2/apps", {}, o);
    t.join();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->body, "<html>503</html>");
  }
}

// Header names in any case, an empty header value, and blanks after the colon.
TEST(AsioHttpGet, HeadersInAnyCaseAndEmptyValues) {
  RawServer server;
  HttpGetOptions o;
  auto t = serveOnce(server,
                     "HTTP/1.1 200 OK\r\nX-Empty:\r\nSERVER:   jetty\r\n"
                     "content-LENGTH: 11\r\n\r\n{\"apps\":[]}");
  auto r = asioHttpGet(server.url(), "/v2/apps", {}, o);
  t.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"apps\":[]}");
}

TEST(AsioHttpGet, TruncatedAndHangingAnswersAreErrors) {
  RawServer server;
  HttpGetOptions o;
  o.timeout = 300ms;
  {
    auto t = serveOnce(server, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"apps\":");
    auto r = asioHttpGet(server.url(), "/v2/apps", {}, o);
    t.join();
    EXPECT_FALSE(r);
  }
  {
    auto t = serveOnce(server, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{", true);
    auto start = std::chrono::steady_clock::now();
    auto r = asioHttpGet(server.url(), "/v2/apps", {}, o);
    EXPECT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1200ms);
    t.join();
  }
  EXPECT_FALSE(asioHttpGet("http://127.0.0.1:1", "/v2/apps", {}, o));
}

// A server that trickles its headers (a line every 100 ms) is held to the whole
// exchange's deadline, not to one per read.
TEST(AsioHttpGet, TricklingHeadersAreBoundByTheWholeDeadline) {
  RawServer server;
  HttpGetOptions o;
  o.timeout = 300ms;
  std::thread t([&server] {
    int c = server.acceptOne();
    RawServer::send(c, "HTTP/1.1 200 OK\r\n");
    pollfd p{c, POLLIN, 0};
    for (int i = 0; i < 40; ++i) {  // 4 s at most
      if (::poll(&p, 1, 100) > 0) {
        break;  // the client closed
      }
      RawServer::send(c, "X-Slow: " + std::to_string(i) + "\r\n");
    }
    ::close(c);
  });
  auto start = std::chrono::steady_clock::now();
  auto r = asioHttpGet(server.url(), "/v2/apps", {}, o);
  const auto took = std::chrono::steady_clock::now() - start;
  t.join();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no complete answer within 300 ms"), std::string::npos)
      << r.error().message;
  EXPECT_LT(took, 1200ms);
}

}  // namespace
}  // namespace mlb::controller

#pragma once
// One HTTP/1.1 client connection to Marathon, plain or TLS, over Boost.Asio: the core
// the bulk GET (asio_http_get) and the event stream (sse_event_stream) are written
// on. Each operation runs to completion or to its own deadline; cancel() ends the
// running one from another thread. Boost stays out of this header.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "controller/marathon/http_message.h"

namespace mlb::controller {

using Deadline = std::chrono::steady_clock::time_point;

struct TlsSettings {
  std::string ca_cert;  // PEM file trusted for https ("" : the system's CAs)
  bool insecure = false;
};

// How a read ended when it did not simply return bytes.
enum class ReadEnd { More, TimedOut, Closed, Failed, Cancelled };

struct ReadResult {
  size_t bytes = 0;  // read into the buffer (also with an end)
  ReadEnd end = ReadEnd::More;
  std::string error;  // Failed: the transport's message
};

class HttpConnection {
 public:
  HttpConnection(ParsedUrl url, TlsSettings tls);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Resolves the host (an address literal needs no resolver), connects and, for
  // https, does the TLS handshake with SNI and host name verification, all within
  // `timeout`. The error names the step and the host: "resolve h: ...",
  // "connect h:p: ...", "TLS handshake with h: ...". A lookup past the deadline is abandoned, not
  // ended: the connection's destruction then waits for it (Asio joins its resolver thread).
  common::Status open(std::chrono::milliseconds timeout);
  common::Status send(const std::string& data, std::chrono::milliseconds timeout);
  // One read of at most `size` bytes. At the deadline the socket is closed and the
  // read ends TimedOut (with any bytes that came with it).
  ReadResult readSome(char* buf, size_t size, std::chrono::milliseconds timeout);
  // Ends the operation running now and every later one. Thread-safe.
  void cancel();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A response head: the status and the header block, and the body bytes that came
// with it.
struct ResponseHead {
  int status = 0;
  std::string fields;  // the status line and headers, without the blank line
  std::string rest;    // body bytes read with the head
};

// Reads until the end of the response head (at most 64 KiB), all of it before
// `deadline`. `on_read(n)` sees every read. On failure `last` says how the reads
// ended (More: the head was too large).
common::Result<ResponseHead> readResponseHead(HttpConnection& c, Deadline deadline,
                                              ReadResult& last,
                                              const std::function<void(size_t)>& on_read = {});

}  // namespace mlb::controller

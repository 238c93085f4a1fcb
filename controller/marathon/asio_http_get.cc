#include "controller/marathon/asio_http_get.h"

#include <array>
#include <cstdlib>

#include "common/strings.h"
#include "controller/marathon/http_chunked.h"
#include "controller/marathon/http_connection.h"

namespace mlb::controller {
namespace {

using common::Error;
using Ms = std::chrono::milliseconds;

// One GET over one connection (connect, TLS, request, head, body), all of it within
// one deadline.
class BulkGet {
 public:
  BulkGet(const std::string& base_url, const ParsedUrl& u, const HttpGetOptions& options)
      : base_url_(base_url),
        options_(options),
        conn_(u, TlsSettings{options.ca_cert, options.insecure_tls}),
        deadline_(std::chrono::steady_clock::now() + options.timeout) {}

  common::Result<HttpGetResponse> run(const std::string& request) {
    if (common::Status st = conn_.open(left()); !st) {
      return unavailable(st.error().message);
    }
    if (common::Status st = conn_.send(request, left()); !st) {
      return unavailable("send request: " + st.error().message);
    }
    ReadResult last;
    auto head = readResponseHead(conn_, deadline_, last);
    if (!head) {
      return unavailable("read response headers: " + readError(last, head.error().message));
    }
    takeHead(*head);
    if (!bodyComplete() && last.end == ReadEnd::More) {
      last = readBody();
    }
    return result(last);
  }

 private:
  Ms left() const {
    const auto d = std::chrono::duration_cast<Ms>(deadline_ - std::chrono::steady_clock::now());
    return std::max(d, Ms(1));
  }

  common::Result<HttpGetResponse> unavailable(const std::string& what) const {
    return Error{common::ErrorCode::Unavailable, base_url_ + ": " + what};
  }

  std::string readError(const ReadResult& r, const std::string& otherwise) const {
    switch (r.end) {
      case ReadEnd::TimedOut:
        return "no complete answer within " + std::to_string(options_.timeout.count()) + " ms";
      case ReadEnd::Closed:
        return "closed by the peer";
      case ReadEnd::Failed:
        return r.error;
      case ReadEnd::Cancelled:
        return "cancelled";
      case ReadEnd::More:
        break;
    }
    return otherwise;
  }

  // Status and the headers that frame the body; the body bytes read with them.
  void takeHead(ResponseHead& head) {
    resp_.status = head.status;
    const std::string_view fields = head.fields;
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
    raw_.append(head.rest);
  }

  // Reads until the body is complete, the peer closes it or a read fails.
  ReadResult readBody() {
    for (;;) {
      ReadResult r = conn_.readSome(buf_.data(), buf_.size(), left());
      raw_.append(buf_.data(), r.bytes);
      if (raw_.size() > options_.max_body) {
        too_large_ = true;
        return r;
      }
      if (r.end != ReadEnd::More || bodyComplete()) {
        return r;
      }
    }
  }

  bool bodyComplete() const {
    return (content_length_ != std::string::npos && raw_.size() >= content_length_) ||
           (chunked_ && raw_.size() >= 5 && raw_.compare(raw_.size() - 5, 5, "0\r\n\r\n") == 0);
  }

  common::Result<HttpGetResponse> result(const ReadResult& last) {
    if (too_large_) {
      return unavailable("answer larger than " + std::to_string(options_.max_body) + " bytes");
    }
    // A close ends a close-delimited body; any other end before the body is whole fails.
    if (!bodyComplete() && last.end != ReadEnd::More && last.end != ReadEnd::Closed) {
      return unavailable("read body: " + readError(last, ""));
    }
    if (content_length_ != std::string::npos && raw_.size() < content_length_) {
      return unavailable("answer truncated (" + std::to_string(raw_.size()) + " of " +
                         std::to_string(content_length_) + " bytes)");
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
  const HttpGetOptions& options_;
  HttpConnection conn_;
  const Deadline deadline_;
  std::string raw_;  // body bytes as received (decoded at the end when chunked)
  std::array<char, 1 << 16> buf_{};
  size_t content_length_ = std::string::npos;
  bool chunked_ = false;
  bool too_large_ = false;
  HttpGetResponse resp_;
};

}  // namespace

common::Result<HttpGetResponse> asioHttpGet(const std::string& base_url, const std::string& target,
                                            const std::vector<std::string>& headers,
                                            const HttpGetOptions& options) {
  const auto u = parseUrl(base_url);
  if (!u) {
    return Error::invalidArgument("bad URL " + base_url);
  }
  std::string path = u->target;
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  path += target;
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + u->host + ":" + u->port +
                        "\r\nAccept: application/json\r\nConnection: close\r\n";
  for (const auto& h : headers) {
    request += h + "\r\n";
  }
  request += "\r\n";
  return BulkGet(base_url, *u, options).run(request);
}

}  // namespace mlb::controller

#include "controller/marathon/http_chunked.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace mlb::controller {
namespace {

using common::Error;
using common::Status;

Error bad(const std::string& what, size_t at) {
  return Error::invalidData("chunked body: " + what + " at byte " + std::to_string(at));
}

std::optional<unsigned> hexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return static_cast<unsigned>(c - '0');
  }
  if (c >= 'a' && c <= 'f') {
    return static_cast<unsigned>(c - 'a' + 10);
  }
  if (c >= 'A' && c <= 'F') {
    return static_cast<unsigned>(c - 'A' + 10);
  }
  return std::nullopt;
}

// A chunk-size line: 1*HEXDIG [ BWS ";" chunk-ext ] CRLF. Sets `size` and moves
// `pos` past the CRLF. The overflow test comes before the multiplication, so that
// "ffffffffffffffff0" cannot wrap around to a small size.
Status readSizeLine(std::string_view in, size_t& pos, size_t& size) {
  const size_t start = pos;
  size = 0;
  for (; pos < in.size(); ++pos) {
    const auto d = hexDigit(in[pos]);
    if (!d) {
      break;
    }
    if (size > (SIZE_MAX >> 4)) {
      return bad("chunk size does not fit in " + std::to_string(sizeof(size_t) * 8) + " bits",
                 start);
    }
    size = (size << 4) | *d;
  }
  if (pos == start) {
    return bad("chunk size is not a hex number", start);
  }
  const size_t eol = in.find("\r\n", pos);
  if (eol == std::string_view::npos) {
    return bad("chunk size line has no CRLF", start);
  }
  const std::string_view rest = in.substr(pos, eol - pos);
  const size_t ext = rest.find_first_not_of(" \t");
  if (ext != std::string_view::npos && rest[ext] != ';') {
    return bad("unexpected text after the chunk size", pos + ext);
  }
  if (rest.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return bad("control character in a chunk extension", pos);
  }
  pos = eol + 2;
  return Status::ok();
}

// The trailer section after the last chunk: field lines, then an empty line that
// ends the body.
Status skipTrailer(std::string_view in, size_t pos) {
  for (;;) {
    const size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      return bad("body ends inside the trailer", pos);
    }
    if (eol == pos) {
      if (eol + 2 != in.size()) {
        return bad("data after the end of the chunked body", eol + 2);
      }
      return Status::ok();
    }
    pos = eol + 2;
  }
}

}  // namespace

Status decodeChunkedInPlace(std::string& body) {
  size_t in = 0;
  size_t out = 0;
  for (;;) {
    // Every view is taken afresh: memmove below writes into the same buffer.
    const std::string_view all(body);
    if (in == all.size()) {
      return bad("body ends before the last chunk", in);
    }
    size_t size = 0;
    if (Status st = readSizeLine(all, in, size); !st) {
      return st;
    }
    if (size == 0) {
      if (Status st = skipTrailer(all, in); !st) {
        return st;
      }
      body.resize(out);
      return Status::ok();
    }
    // Compared without adding to `in`: in + size may wrap.
    if (size > all.size() - in) {
      return bad("chunk of " + std::to_string(size) + " bytes is longer than the rest", in);
    }
    if (all.size() - in - size < 2 || all.compare(in + size, 2, "\r\n") != 0) {
      return bad("chunk data not followed by CRLF", in + size);
    }
    std::memmove(body.data() + out, body.data() + in, size);
    out += size;
    in += size + 2;
  }
}

}  // namespace mlb::controller

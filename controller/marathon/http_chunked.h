#pragma once
// HTTP/1.1 chunked transfer coding (RFC 9112 §7.1). Pure and total: any bytes give a
// Status, never a crash. No Boost, no cpprest, so that the unit test and the fuzz
// target build in seconds.
#include <string>

#include "common/result.h"

namespace mlb::controller {

// Decodes `body`, a complete chunked message body (its chunks, the last chunk,
// optional trailer fields and the final CRLF), into the data it carries. In place:
// data only moves towards the front and the string keeps its capacity (the JSON
// parser needs spare capacity after a 30 MB answer). Chunk extensions and trailer
// fields are ignored. Fails with InvalidData, naming the byte offset, on a chunk
// size that is not hex or does not fit in size_t, a chunk longer than what is left,
// a missing CRLF, a body that ends before its last chunk, or bytes after its end;
// `body` is then unspecified. Thread-compatible.
common::Status decodeChunkedInPlace(std::string& body);

}  // namespace mlb::controller

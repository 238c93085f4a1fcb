#include "controller/marathon/http_chunked.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mlb::controller {
namespace {

struct Case {
  std::string name;
  std::string in;
  std::string out;    // the decoded data, when `error` is empty
  std::string error;  // a part of the error message
};

TEST(HttpChunkedTest, DecodesOrRejectsWithTheReason) {
  using namespace std::string_literals;
  const std::vector<Case> cases = {
      {"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", ""},
      {"two chunks", "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", "hello", ""},
      {"empty body", "0\r\n\r\n", "", ""},
      {"upper and lower hex", "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
       "0123456789abcdefghij", ""},
      {"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", ""},
      {"chunk extensions", "5;name=value\r\nhello\r\n2 ; x\r\n!!\r\n0;last\r\n\r\n", "hello!!", ""},
      {"trailer fields", "5\r\nhello\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n", "hello", ""},
      {"data holding CRLF and a NUL", "6\r\na\r\n\0bc\r\n0\r\n\r\n"s, "a\r\n\0bc"s, ""},
      {"nothing", "", "", "ends before the last chunk"},
      {"no last chunk", "5\r\nhello\r\n", "", "ends before the last chunk"},
      {"no final CRLF", "5\r\nhello\r\n0\r\n", "", "ends inside the trailer"},
      {"trailer cut", "5\r\nhello\r\n0\r\nX-A: b\r\n", "", "ends inside the trailer"},
      {"bytes after the end", "0\r\n\r\nGET / HTTP/1.1\r\n\r\n", "", "after the end"},
      {"non-hex size", "zz\r\nhello\r\n0\r\n\r\n", "", "not a hex number"},
      {"negative size", "-5\r\nhello\r\n0\r\n\r\n", "", "not a hex number"},
      {"size then junk", "5g\r\nhello\r\n0\r\n\r\n", "", "unexpected text"},
      {"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "", "unexpected text"},
      {"blank before size", " 5\r\nhello\r\n0\r\n\r\n", "", "not a hex number"},
      {"LF only", "5\nhello\n0\n\n", "", "no CRLF"},
      {"LF inside the size line", "5\nx\r\nhello\r\n0\r\n\r\n", "", "unexpected text"},
      {"size line without CRLF", "5", "", "no CRLF"},
      {"truncated data", "a\r\nhello\r\n", "", "longer than the rest"},
      {"data not followed by CRLF", "3\r\nhello\r\n0\r\n\r\n", "", "not followed by CRLF"},
      {"data at the very end", "5\r\nhello", "", "not followed by CRLF"},
      {"data then CR only", "5\r\nhello\r", "", "not followed by CRLF"},
      // The reproduction of issue #11: this size wrapped `in + len` to a small number.
      {"2^64-1", "ffffffffffffffff\r\nhello\r\n0\r\n\r\n", "", "longer than the rest"},
      {"2^32 + 4", "100000004\r\nhello\r\n0\r\n\r\n", "",
       sizeof(size_t) == 4 ? "does not fit in" : "longer than the rest"},
      {"2^64 + 5", "10000000000000005\r\nhello\r\n0\r\n\r\n", "", "does not fit in"},
      {"many digits", std::string(40, 'f') + "\r\nx\r\n0\r\n\r\n", "", "does not fit in"},
      {"bare CR in extension", "5;a\rb\r\nhello\r\n0\r\n\r\n", "", "control character"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string body = c.in;
    const common::Status st = decodeChunkedInPlace(body);
    if (c.error.empty()) {
      ASSERT_TRUE(st.has_value()) << st.error().message;
      EXPECT_EQ(body, c.out);
    } else {
      ASSERT_FALSE(st.has_value());
      EXPECT_NE(st.error().message.find(c.error), std::string::npos) << st.error().message;
    }
  }
}

// On 32 bits size_t ends at 2^32 - 1; on 64 bits at 2^64 - 1. One more hex digit
// than the width allows must be an error, not a wrapped size.
TEST(HttpChunkedTest, SizeOverflowAtTheWidthOfSizeT) {
  const std::string max_digits(sizeof(size_t) * 2, 'f');
  std::string at_max = max_digits + "\r\nx\r\n0\r\n\r\n";
  EXPECT_NE(decodeChunkedInPlace(at_max).error().message.find("longer than the rest"),
            std::string::npos);
  std::string over = "1" + std::string(sizeof(size_t) * 2, '0') + "\r\nx\r\n0\r\n\r\n";
  EXPECT_NE(decodeChunkedInPlace(over).error().message.find("does not fit in"), std::string::npos);
}

TEST(HttpChunkedTest, KeepsCapacityAndNamesTheOffset) {
  std::string body = "5\r\nhello\r\n0\r\n\r\n";
  body.reserve(1000);
  const size_t capacity = body.capacity();
  ASSERT_TRUE(decodeChunkedInPlace(body).has_value());
  EXPECT_EQ(body, "hello");
  EXPECT_EQ(body.capacity(), capacity);

  std::string bad = "5\r\nhello\r\nq\r\n";
  const common::Status st = decodeChunkedInPlace(bad);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, common::ErrorCode::InvalidData);
  EXPECT_NE(st.error().message.find("at byte 10"), std::string::npos) << st.error().message;
}

TEST(HttpChunkedTest, DecodesALargeBodyOfManyChunks) {
  std::string data, body;
  for (int i = 0; i < 1000; ++i) {
    const std::string chunk(static_cast<size_t>(i % 37 + 1), static_cast<char>('a' + i % 26));
    data += chunk;
    char size[16];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    body += std::string(size) + "\r\n" + chunk + "\r\n";
  }
  body += "0\r\n\r\n";
  ASSERT_TRUE(decodeChunkedInPlace(body).has_value());
  EXPECT_EQ(body, data);
}

}  // namespace
}  // namespace mlb::controller

#include "controller/marathon/sse_parser.h"

#include <gtest/gtest.h>

namespace mlb::controller {
namespace {

std::vector<SseEvent> feedAll(SseParser& p, const std::vector<std::string>& chunks) {
  std::vector<SseEvent> out;
  for (const auto& c : chunks) {
    p.feed(c, [&](SseEvent&& e) { out.push_back(std::move(e)); });
  }
  return out;
}

TEST(SseParser, MarathonFramingWithCrlfAndKeepalives) {
  SseParser p;
  auto events = feedAll(p, {"event: status_update_event\r\ndata: {\"a\":1}\r\n\r\n", "\r\n",
                            "event: api_post_event\r\ndata: {\"b\":2}\r\n\r\n"});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "status_update_event");
  EXPECT_EQ(events[0].data, std::vector<std::string>{"{\"a\":1}"});
  EXPECT_EQ(events[1].type, "api_post_event");
  EXPECT_EQ(p.keepalives(), 1u);
}

TEST(SseParser, SplitAnywhereGivesTheSameEvents) {
  const std::string stream =
      "event: a\r\ndata: {\"x\":\"y\\\"}\"}\r\n\r\n\r\n:comment\r\nevent: b\ndata: [1,2]\n\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser p;
    auto events = feedAll(p, {stream.substr(0, cut), stream.substr(cut)});
    ASSERT_EQ(events.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(events[0].data, std::vector<std::string>{"{\"x\":\"y\\\"}\"}"});
    EXPECT_EQ(events[1].type, "b");
    EXPECT_EQ(events[1].data, std::vector<std::string>{"[1,2]"});
  }
}

TEST(SseParser, SeveralJsonObjectsInOneDataLine) {
  SseParser p;
  auto events = feedAll(p, {"event: x\r\ndata: {\"a\":\"}{\"}{\"b\":[{}]} \r\n\r\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, (std::vector<std::string>{"{\"a\":\"}{\"}", "{\"b\":[{}]}"}));
}

TEST(SseParser, BareCrThenLfInTheNextChunkIsOneLineEnd) {
  // Jetty's heartbeat writes "\r", flushes, then "\n".
  SseParser p;
  auto events = feedAll(p, {"\r", "\n", "event: e\r", "\ndata: {}\r", "\n\r", "\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(p.keepalives(), 1u);
}

TEST(SseParser, OversizedEventIsDroppedAndCounted) {
  SseParser p(32);
  auto events = feedAll(p, {"event: big\r\ndata: {\"" + std::string(100, 'x') + "\"}\r\n\r\n",
                            "event: small\r\ndata: {}\r\n\r\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "small");
  EXPECT_EQ(p.oversized(), 1u);
}

TEST(SseParser, EventWithoutTypeIsMessage) {
  SseParser p;
  auto events = feedAll(p, {"data: {}\n\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "message");
}

}  // namespace
}  // namespace mlb::controller

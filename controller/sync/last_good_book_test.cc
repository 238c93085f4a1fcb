#include "controller/sync/last_good_book.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

namespace mlb::controller {
namespace {

ServiceRef service(const std::string& app, int port_index, const std::string& tag) {
  Service s;
  s.app_id = app;
  s.port_index = port_index;
  s.backend = tag;  // tells versions apart in the assertions
  return s;
}

std::vector<std::string> tags(const std::vector<ServiceRef>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) {
    out.push_back(s->backend);
  }
  return out;
}

TEST(LastGoodBook, KeepsWhatWasServedAndForgetsWhatWasNot) {
  LastGoodBook book;
  book.record({service("/a", 0, "a0"), service("/a", 1, "a1"), service("/b", 0, "b0")}, {});
  EXPECT_EQ(tags(book.of("/a")), (std::vector<std::string>{"a0", "a1"}));
  EXPECT_EQ(tags(book.of("/a", 1)), std::vector<std::string>{"a1"});
  EXPECT_TRUE(book.of("/ab").empty());
  EXPECT_TRUE(book.of("/a", 2).empty());
  book.record({service("/a", 0, "a0'"), service("/c", 0, "c0")}, {});
  EXPECT_EQ(tags(book.of("/a")), std::vector<std::string>{"a0'"});  // port 1 not served
  EXPECT_TRUE(book.of("/b").empty());
  EXPECT_EQ(book.size(), 2u);
}

TEST(LastGoodBook, AQuarantinedPortKeepsItsOldServiceWhileServed) {
  LastGoodBook book;
  book.record({service("/a", 0, "good"), service("/b", 0, "b")}, {});
  auto quarantined = [](const Service& s) { return s.app_id == "/a"; };
  book.record({service("/a", 0, "bad"), service("/b", 0, "b'")}, quarantined);
  EXPECT_EQ(tags(book.of("/a")), std::vector<std::string>{"good"});
  EXPECT_EQ(tags(book.of("/b")), std::vector<std::string>{"b'"});
  book.record({service("/b", 0, "b'")}, quarantined);  // /a no longer served
  EXPECT_TRUE(book.of("/a").empty());
}

TEST(LastGoodBook, AnEmptyModelAfterAQuarantineForgetsEverything) {
  LastGoodBook book;
  book.record({service("/a", 0, "a0"), service("/b", 0, "b0")}, {});
  auto quarantined = [](const Service& s) { return s.app_id == "/a"; };
  book.record({service("/a", 0, "bad"), service("/b", 0, "b1")}, quarantined);
  ASSERT_EQ(book.size(), 2u);
  book.record({}, {});
  EXPECT_EQ(book.size(), 0u);
  EXPECT_TRUE(book.of("/a").empty());
}

// Through random passes (the same shared services, new ones, ports gone, quarantines,
// passes that change nothing),
// the book holds what a map rebuilt from scratch at every pass holds.
TEST(LastGoodBook, AgreesWithAMapRebuiltEveryPass) {
  std::mt19937 rng(9);
  std::map<std::pair<std::string, int>, ServiceRef> served;
  std::map<std::pair<std::string, int>, std::string> want;
  LastGoodBook book;
  for (int step = 0; step < 300; ++step) {
    for (int n = static_cast<int>(rng() % 5); n > 0; --n) {
      const std::pair<std::string, int> key{"/app" + std::to_string(rng() % 12),
                                            static_cast<int>(rng() % 3)};
      if (rng() % 4 == 0) {
        served.erase(key);
      } else {
        served.insert_or_assign(key, service(key.first, key.second, "v" + std::to_string(step)));
      }
    }
    // Half the passes quarantine nothing (the book then writes only what changed).
    const bool quarantine = rng() % 2 == 0;
    const std::string bad = quarantine ? "/app" + std::to_string(rng() % 12) : "";
    std::vector<ServiceRef> model;
    std::map<std::pair<std::string, int>, std::string> next;
    for (const auto& [key, svc] : served) {
      model.push_back(svc);
    }
    // A model is sorted by (app id, service port): an app's ports may come in any order.
    std::shuffle(model.begin(), model.end(), rng);
    std::stable_sort(model.begin(), model.end(), [](const ServiceRef& a, const ServiceRef& b) {
      return a->app_id < b->app_id;
    });
    for (const auto& [key, svc] : served) {
      if (key.first != bad) {
        next[key] = svc->backend;
      } else if (auto w = want.find(key); w != want.end()) {
        next[key] = w->second;  // quarantined: the old one stays
      }
    }
    std::function<bool(const Service&)> keep_old;
    if (quarantine) {
      keep_old = [&bad](const Service& s) { return s.app_id == bad; };
    }
    book.record(model, keep_old);
    want = next;
    std::map<std::pair<std::string, int>, std::string> got;
    for (int a = 0; a < 12; ++a) {
      const std::string id = "/app" + std::to_string(a);
      int last_port = -1;
      for (const auto& s : book.of(id)) {
        ASSERT_GT(s->port_index, last_port);  // by port index
        last_port = s->port_index;
        got[{id, s->port_index}] = s->backend;
        const auto one = book.of(id, s->port_index);
        ASSERT_EQ(one.size(), 1u);
        ASSERT_EQ(one[0].get(), s.get());
      }
    }
    ASSERT_EQ(got, want) << "step " << step;
    ASSERT_EQ(book.size(), want.size());
  }
}

}  // namespace
}  // namespace mlb::controller

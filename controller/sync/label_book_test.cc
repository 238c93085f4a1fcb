#include "controller/sync/label_book.h"

#include <gtest/gtest.h>

#include <random>

namespace mlb::controller {
namespace {

MarathonApp app(const std::string& id, uint64_t revision, const std::string& vhost) {
  MarathonApp a;
  a.id = id;
  a.revision = revision;
  a.labels["HAPROXY_0_VHOST"] = vhost;
  return a;
}

ParsedApps answer(std::vector<MarathonApp> apps) {
  ParsedApps p;
  p.apps = std::move(apps);
  return p;
}

TEST(LabelBook, TheFirstAnswerIsAChangeWithNoAppChanged) {
  LabelBook book;
  auto u = book.update(answer({app("/a", 1, "a.example"), app("/b", 2, "b.example")}));
  EXPECT_TRUE(u.any);
  EXPECT_TRUE(u.changed.empty());  // new apps: nothing to keep from before
  EXPECT_EQ(book.digests()->size(), 2u);
  EXPECT_EQ(book.digestOf("/a"), labelsDigest(app("/a", 1, "a.example")));
  EXPECT_EQ(book.digestOf("/nope"), 0u);
}

TEST(LabelBook, ATaskEventIsNoChangeAndKeepsTheSameDigestsObject) {
  LabelBook book;
  book.update(answer({app("/a", 1, "a.example"), app("/b", 2, "b.example")}));
  const auto before = book.digests();
  auto u = book.update(answer({app("/a", 1, "a.example"), app("/b", 3, "b.example")}));
  EXPECT_FALSE(u.any);
  EXPECT_TRUE(u.changed.empty());
  EXPECT_EQ(book.digests(), before);  // holders of the old map share it
}

TEST(LabelBook, ALabelChangeNamesTheAppAndReplacesTheDigests) {
  LabelBook book;
  book.update(answer({app("/a", 1, "a.example"), app("/b", 2, "b.example")}));
  const auto before = book.digests();
  auto u = book.update(answer({app("/a", 1, "a.example"), app("/b", 3, "other.example")}));
  EXPECT_TRUE(u.any);
  ASSERT_EQ(u.changed, std::vector<size_t>{1});
  EXPECT_NE(book.digests(), before);
  EXPECT_EQ(before->at("/b"), labelsDigest(app("/b", 2, "b.example")));  // untouched
  EXPECT_EQ(book.digestOf("/b"), labelsDigest(app("/b", 3, "other.example")));
}

TEST(LabelBook, AnAppGoneOrComeIsAChange) {
  LabelBook book;
  book.update(answer({app("/a", 1, "a.example"), app("/b", 2, "b.example")}));
  auto gone = book.update(answer({app("/a", 1, "a.example")}));
  EXPECT_TRUE(gone.any);
  EXPECT_EQ(book.digests()->count("/b"), 0u);
  // Same count, other app: /b replaced by /c in the same place.
  book.update(answer({app("/a", 1, "a.example"), app("/b", 4, "b.example")}));
  auto swapped = book.update(answer({app("/a", 1, "a.example"), app("/c", 5, "b.example")}));
  EXPECT_TRUE(swapped.any);
  EXPECT_TRUE(swapped.changed.empty());
  EXPECT_EQ(book.digests()->count("/b"), 0u);
  EXPECT_EQ(book.digests()->count("/c"), 1u);
}

TEST(LabelBook, AppsWithoutARevisionAreReadAtEveryUpdate) {
  LabelBook book;
  book.update(answer({app("/a", 0, "a.example"), app("/b", 0, "b.example")}));
  auto u = book.update(answer({app("/a", 0, "a.example"), app("/b", 0, "other.example")}));
  EXPECT_TRUE(u.any);
  EXPECT_EQ(u.changed, std::vector<size_t>{1});
}

TEST(LabelBook, ALabelChangeAmongManyNewRevisionsIsFound) {
  std::vector<MarathonApp> apps;
  for (int i = 0; i < 70; ++i) {
    apps.push_back(app("/app" + std::to_string(100 + i), 1 + i, "v"));
  }
  LabelBook book;
  book.update(answer(apps));
  for (auto& a : apps) {
    a.revision += 1000;  // every app read again (a full answer)
  }
  apps[69].labels["HAPROXY_0_VHOST"] = "w";
  auto u = book.update(answer(apps));
  EXPECT_TRUE(u.any);
  EXPECT_EQ(u.changed, std::vector<size_t>{69});
}

// Through random answers, a long-lived book holds what a fresh book reads, and names
// exactly the apps whose labels differ from the last answer's.
TEST(LabelBook, ALongLivedBookAgreesWithAFreshOne) {
  std::mt19937 rng(3);
  std::map<std::string, MarathonApp> cluster;
  uint64_t revision = 1;
  for (int i = 0; i < 40; ++i) {
    const std::string id = "/app" + std::to_string(10 + i);
    cluster[id] = app(id, revision++, "v0");
  }
  LabelBook book;
  std::map<std::string, uint64_t> last;
  int label_changes = 0, quiet = 0;
  for (int step = 0; step < 500; ++step) {
    for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
      auto it = std::next(cluster.begin(), static_cast<long>(rng() % cluster.size()));
      switch (rng() % 6) {
        case 0:
          it->second.labels["HAPROXY_0_VHOST"] = "v" + std::to_string(rng() % 3);
          break;
        case 1:
          if (cluster.size() > 10) {
            cluster.erase(it);
            continue;
          }
          break;
        case 2: {
          const std::string id = "/app" + std::to_string(10 + rng() % 60);
          cluster[id] = app(id, 0, "v" + std::to_string(rng() % 3));
          it = cluster.find(id);
          break;
        }
        default:
          break;  // a task event: a new revision, the same labels
      }
      it->second.revision = revision++;
    }
    ParsedApps p;
    for (const auto& [id, a] : cluster) {
      p.apps.push_back(a);
    }
    const auto u = book.update(p);
    LabelBook fresh;
    fresh.update(p);
    ASSERT_EQ(*book.digests(), *fresh.digests()) << "step " << step;
    std::vector<size_t> want;
    for (size_t i = 0; i < p.apps.size(); ++i) {
      auto d = last.find(p.apps[i].id);
      if (d != last.end() && d->second != fresh.digestOf(p.apps[i].id)) {
        want.push_back(i);
      }
    }
    ASSERT_EQ(u.changed, want) << "step " << step;
    ASSERT_EQ(u.any, last != *fresh.digests()) << "step " << step;
    label_changes += want.empty() ? 0 : 1;
    quiet += u.any ? 0 : 1;
    last = *fresh.digests();
  }
  EXPECT_GT(label_changes, 50);
  EXPECT_GT(quiet, 50);  // the fast path (nothing changed) was exercised too
}

}  // namespace
}  // namespace mlb::controller

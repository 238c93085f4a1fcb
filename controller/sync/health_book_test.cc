#include "controller/sync/health_book.h"

#include <gtest/gtest.h>

namespace mlb::controller {
namespace {

MarathonApp checkedApp(const std::string& id, uint64_t revision,
                       const std::vector<std::pair<std::string, int>>& tasks) {
  // tasks: id, health (-1: no results, 0: dead, 1: alive)
  MarathonApp app;
  app.id = id;
  app.revision = revision;
  app.health_checks.push_back(HealthCheck{});
  for (const auto& [task_id, health] : tasks) {
    MarathonTask t;
    t.id = task_id;
    t.health_results = health < 0 ? 0 : 1;
    t.any_alive = health == 1;
    app.tasks.push_back(t);
  }
  return app;
}

TEST(HealthBook, AMissingResultKeepsTheLastValueSeenAndCountsAsLost) {
  HealthBook book;
  ParsedApps p;
  p.apps = {checkedApp("/a", 1, {{"t1", 1}, {"t2", 0}, {"t3", -1}})};
  book.update(p);
  EXPECT_EQ(book.known("t1"), true);
  EXPECT_EQ(book.known("t2"), false);
  EXPECT_EQ(book.known("t3"), std::nullopt);
  EXPECT_EQ(book.checkedTasks(), 3u);
  EXPECT_EQ(book.lostTasks(), 0u);  // t3 never had a value
  p.apps = {checkedApp("/a", 2, {{"t1", -1}, {"t2", -1}, {"t3", -1}})};
  book.update(p);
  EXPECT_EQ(book.known("t1"), true);
  EXPECT_EQ(book.known("t2"), false);
  EXPECT_EQ(book.lostTasks(), 2u);
}

TEST(HealthBook, AnUnchangedRevisionIsNotReadAgainAndGoneTasksAreForgotten) {
  HealthBook book;
  ParsedApps p;
  p.apps = {checkedApp("/a", 1, {{"t1", 1}}), checkedApp("/b", 1, {{"u1", 0}})};
  book.update(p);
  // The same revision with other contents: the book trusts the revision.
  p.apps[0] = checkedApp("/a", 1, {{"t1", 0}});
  book.update(p);
  EXPECT_EQ(book.known("t1"), true);
  // A new revision without t1, and /b gone: they stop counting at once, and their
  // values are forgotten once that answer is published.
  p.apps = {checkedApp("/a", 2, {{"t9", 1}})};
  book.update(p);
  EXPECT_EQ(book.checkedTasks(), 1u);
  EXPECT_EQ(book.known("t1"), true);
  book.commit();
  EXPECT_EQ(book.known("t1"), std::nullopt);
  EXPECT_EQ(book.known("u1"), std::nullopt);
  EXPECT_EQ(book.known("t9"), true);
  EXPECT_EQ(book.checkedTasks(), 1u);
  EXPECT_EQ(book.size(), 1u);
}

TEST(HealthBook, AnAnswerNotPublishedForgetsNothing) {
  // Marathon fails over: an empty answer (held by the guards), then every app again
  // without health results. The values seen before are what the missing results fall
  // back on, and the lost count is what the health guard reads.
  HealthBook book;
  ParsedApps full;
  full.apps = {checkedApp("/a", 1, {{"t1", 1}, {"t2", 1}}),
               checkedApp("/b", 1, {{"u1", 1}, {"u2", 0}})};
  book.update(full);
  book.commit();
  book.update(ParsedApps{});
  EXPECT_EQ(book.checkedTasks(), 0u);
  ParsedApps lost;
  lost.apps = {checkedApp("/a", 2, {{"t1", -1}, {"t2", -1}}),
               checkedApp("/b", 2, {{"u1", -1}, {"u2", -1}})};
  book.update(lost);
  EXPECT_EQ(book.lostTasks(), 4u);
  EXPECT_EQ(book.checkedTasks(), 4u);
  EXPECT_EQ(book.known("u1"), true);
  EXPECT_EQ(book.known("u2"), false);
  // A task left out of a held answer and listed again keeps its value after a commit.
  ParsedApps partial;
  partial.apps = {checkedApp("/a", 3, {{"t1", -1}}), checkedApp("/b", 2, {{"u1", -1}, {"u2", -1}})};
  book.update(partial);
  book.update(lost);  // /a at revision 2 again: t2 is listed
  book.commit();
  EXPECT_EQ(book.known("t2"), true);
}

}  // namespace
}  // namespace mlb::controller

#include "controller/sync/answer_guards.h"

#include <gtest/gtest.h>

namespace mlb::controller {
namespace {

TEST(AnswerGuards, NothingIsHeldWithoutABaseline) {
  AnswerGuards g({0.5, 3});
  EXPECT_EQ(g.check({0, 0, 0, 0}).guard, Guard::None);  // a first answer may be empty
}

TEST(AnswerGuards, AnEmptyAnswerIsHeldUntilConfirmed) {
  AnswerGuards g({0.5, 3});
  g.serving(10, 40);
  auto first = g.check({0, 0, 0, 0});
  EXPECT_EQ(first.guard, Guard::Empty);
  EXPECT_NE(first.detail.find("confirmation 1/3"), std::string::npos) << first.detail;
  EXPECT_EQ(g.check({0, 0, 0, 0}).guard, Guard::Empty);
  EXPECT_EQ(g.check({0, 0, 0, 0}).guard, Guard::None);  // third in a row: confirmed
}

TEST(AnswerGuards, AShrinkPastTheLimitIsHeldAndAnotherGuardStartsCountingAgain) {
  AnswerGuards g({0.5, 2});
  g.serving(10, 100);
  EXPECT_EQ(g.check({10, 51, 0, 0}).guard, Guard::None);  // half is allowed
  EXPECT_EQ(g.check({10, 49, 0, 0}).guard, Guard::Shrink);
  EXPECT_EQ(g.check({10, 100, 10, 6}).guard, Guard::HealthUnknown);  // not a confirmation
  EXPECT_EQ(g.check({10, 100, 10, 6}).guard, Guard::None);
  EXPECT_EQ(g.check({10, 100, 10, 5}).guard, Guard::None);  // half lost is not most
}

TEST(AnswerGuards, AGoodAnswerResetsTheCount) {
  AnswerGuards g({0.5, 2});
  g.serving(10, 100);
  EXPECT_EQ(g.check({10, 10, 0, 0}).guard, Guard::Shrink);
  EXPECT_EQ(g.check({10, 100, 0, 0}).guard, Guard::None);
  EXPECT_EQ(g.check({10, 10, 0, 0}).guard, Guard::Shrink);  // counting from 1 again
}

}  // namespace
}  // namespace mlb::controller

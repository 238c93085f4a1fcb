#include "reloader/haproxy/fd_budget.h"

#include <gtest/gtest.h>

namespace mlb::reloader {
namespace {

TEST(FdBudget, GlobalMaxconnAndServers) {
  const std::string cfg =
      "global\n  maxconn 50000\n  daemon\ndefaults\n  maxconn 10000\n"
      "backend a\n  server s1 1.1.1.1:1 check\n  server s2 1.1.1.2:1\n"
      "frontend f\n  bind :80\n";
  FdBudget b = planFdBudget(cfg);
  EXPECT_EQ(b.maxconn, 50000);  // the defaults' maxconn is not the global one
  EXPECT_EQ(b.servers, 2);
  EXPECT_EQ(b.needed, 2 * 50000 + 2 + 256);
  const std::string problem = fdBudgetProblem(b, 20000);
  EXPECT_NE(problem.find("100258"), std::string::npos) << problem;
  EXPECT_NE(problem.find("--maxconn to at most 9871"), std::string::npos) << problem;
  EXPECT_EQ(fdBudgetProblem(b, 200000), "");
}

TEST(FdBudget, NoGlobalMaxconnIsNoConstraint) {
  FdBudget b = planFdBudget("global\n  daemon\nlisten x\n  server s 1.1.1.1:1\n");
  EXPECT_EQ(b.needed, 0);
  EXPECT_EQ(fdBudgetProblem(b, 10), "");
  EXPECT_EQ(planFdBudget("").needed, 0);
}

}  // namespace
}  // namespace mlb::reloader

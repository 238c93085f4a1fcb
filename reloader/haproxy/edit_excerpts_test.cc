#include "reloader/haproxy/edit_excerpts.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "reloader/haproxy/runtime_plan.h"

namespace mlb::reloader {
namespace {

using Pieces = std::vector<std::string>;

std::string joined(const Pieces& p) {
  std::string out;
  for (const auto& x : p) {
    out += x;
  }
  return out;
}

std::vector<common::ConfigPiece> cut(const Pieces& p) {
  std::vector<common::ConfigPiece> out;
  size_t at = 0;
  for (const auto& x : p) {
    out.push_back({at, at + x.size(), common::sha256(x)});
    at += x.size();
  }
  return out;
}

std::string servers(int n, int seed) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += "  server s" + std::to_string(i) + " 127.0.0." + std::to_string(seed % 200 + 1) + ":" +
           std::to_string(8000 + i) + " id " + std::to_string(i + 1) + " check\n";
  }
  return out;
}

// A configuration in pieces as the renderer cuts one: globals, a frontend with one
// rule per app, a backend per app (its head and its servers, sometimes one piece).
Pieces baseOf(std::mt19937& rng) {
  Pieces p = {"global\n  maxconn 100\n", "defaults\n  mode http\n  default-server inter 2s\n\n",
              "frontend http\n  bind 127.0.0.1:80\n"};
  const int apps = 3 + static_cast<int>(rng() % 6);
  for (int k = 0; k < apps; ++k) {
    p.push_back("  use_backend b" + std::to_string(k) + " if { path_beg /" + std::to_string(k) +
                " }\n");
  }
  for (int k = 0; k < apps; ++k) {
    const std::string head = "backend b" + std::to_string(k) + "\n  balance roundrobin\n";
    const std::string body = servers(1 + static_cast<int>(rng() % 3), k);
    if (rng() % 2) {
      p.push_back(head + body);
    } else {
      p.push_back(head);
      p.push_back(body);
    }
  }
  return p;
}

void replaceOnce(std::string& s, const std::string& from, const std::string& to) {
  if (auto at = s.find(from); at != std::string::npos) {
    s.replace(at, from.size(), to);
  } else {
    s += "  # changed\n";
  }
}

// A change a task event, a label or a template could make to one piece.
void mutate(std::string& piece, std::mt19937& rng) {
  switch (rng() % 10) {
    case 0:
    case 1:
      piece += "  server n" + std::to_string(rng() % 4) + " 127.0.0.9:9000 id " +
               std::to_string(100 + rng() % 50) + " check\n";
      break;
    case 2:
      if (auto at = piece.rfind("  server "); at != std::string::npos) {
        piece.erase(at, piece.find('\n', at) + 1 - at);
      }
      break;
    case 3:
      if (piece.find(" check disabled\n") != std::string::npos) {
        replaceOnce(piece, " check disabled\n", " check\n");
      } else {
        replaceOnce(piece, " check\n", " check disabled\n");
      }
      break;
    case 4:
      replaceOnce(piece, "127.0.0.", "127.0.1.");
      break;
    case 5:
      replaceOnce(piece, "backend b", "backend x");
      break;
    case 6:
      if (!piece.empty() && piece.back() == '\n') {
        piece.pop_back();  // a label template without a final line break
      }
      break;
    case 7:
      piece = "  " + piece;
      break;
    case 8:
      piece += "backend new" + std::to_string(rng() % 3) + "\n  server z 127.0.0.1:1 id 1 check\n";
      break;
    default:
      replaceOnce(piece, "inter 2s", "inter 3s");
      break;
  }
}

common::ConfigEdits editsOf(const Pieces& base, const Pieces& now, const std::string& text) {
  common::ConfigEdits e;
  const std::string base_text = joined(base);
  const auto pieces = cut(now);
  EXPECT_TRUE(common::editsFromBase({"00aa", base_text.size(), cut(base)}, pieces,
                                    common::pieceTexts(text, pieces), 1 << 20, e));
  return e;
}

std::string describe(const RuntimePlan& p) {
  std::ostringstream o;
  o << static_cast<int>(p.kind) << "|" << p.reason << "|" << p.reason_class << "|"
    << p.needs_validation << "|" << p.added << "," << p.removed << "," << p.changed << "\n";
  for (size_t i = 0; i < p.commands.size(); ++i) {
    o << p.commands[i] << " -> " << static_cast<int>(p.expect[i]) << "\n";
  }
  for (const auto& [b, s] : p.removals) {
    o << "remove " << b << "/" << s << "\n";
  }
  for (const auto& a : p.removed_adds) {
    o << "was " << a << "\n";
  }
  for (const auto& b : p.backends) {
    o << "backend " << b << "\n";
  }
  return o.str();
}

class EditExcerptsTest : public ::testing::TestWithParam<unsigned> {};

// Two configurations made from one base plan the same from their excerpts as from
// their whole texts, whenever the excerpts are given and need no other live shapes.
TEST_P(EditExcerptsTest, ExcerptsPlanWhatTheWholeTextsPlan) {
  std::mt19937 rng(GetParam());
  int compared = 0, runtime = 0;
  for (int round = 0; round < 600; ++round) {
    const Pieces base = baseOf(rng);
    const std::string base_text = joined(base);
    Pieces a = base, b = base;
    for (Pieces* p : {&a, &b}) {
      const int changes = static_cast<int>(rng() % 3);  // 0: the base itself
      for (int c = 0; c < changes; ++c) {
        mutate((*p)[rng() % p->size()], rng);
      }
    }
    const std::string a_text = joined(a), b_text = joined(b);
    const common::ConfigEdits ea = editsOf(base, a, a_text), eb = editsOf(base, b, b_text);
    ASSERT_EQ(*common::applyConfigEdits(base_text, ea), a_text);
    const RuntimePlan whole = planRuntime(a_text, b_text);
    auto ex = excerptsOf(base_text, ea, eb);
    if (!ex) {
      continue;  // (the reloader compares the whole texts)
    }
    EXPECT_LE(ex->a.size(), a_text.size());
    const RuntimePlan part = planRuntime(ex->a, ex->b);
    if (part.needs_validation) {
      continue;  // (so does it when a shape must be looked for among every live server)
    }
    ++compared;
    runtime += whole.kind == RuntimePlan::Kind::Runtime ? 1 : 0;
    ASSERT_EQ(describe(part), describe(whole)) << "round " << round << "\n--- a\n"
                                               << a_text << "--- b\n"
                                               << b_text;
  }
  EXPECT_GT(compared, 300);
  EXPECT_GT(runtime, 15);  // server changes planned at runtime, not only reloads
}

INSTANTIATE_TEST_SUITE_P(Seeds, EditExcerptsTest, ::testing::Values(1u, 2u, 3u, 4u));

TEST(EditExcerpts, AScaleOfOneBackendAmongManyIsPlannedFromThatBackend) {
  Pieces base = {"global\n", "defaults\n  mode http\n"};
  for (int k = 0; k < 500; ++k) {
    base.push_back("backend b" + std::to_string(k) + "\n" + servers(2, k));
  }
  Pieces next = base;
  next[250] += "  server s2 127.0.0.9:8002 id 3 check\n";
  const std::string base_text = joined(base), next_text = joined(next);
  const common::ConfigEdits none{"00aa", base_text.size(), {}};
  auto ex = excerptsOf(base_text, none, editsOf(base, next, next_text));
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->a, "global\ndefaults\n  mode http\n" + base[250]);
  EXPECT_EQ(ex->b, "global\ndefaults\n  mode http\n" + next[250]);
  const RuntimePlan p = planRuntime(ex->a, ex->b);
  EXPECT_EQ(p.kind, RuntimePlan::Kind::Runtime);
  EXPECT_EQ(describe(p), describe(planRuntime(base_text, next_text)));
}

TEST(EditExcerpts, EditsOfAnotherBaseGiveNothing) {
  const std::string base_text = "global\nbackend a\n  server s 127.0.0.1:1\n";
  common::ConfigEdits e{"00aa", base_text.size(), {{7, 10, common::sha256("backend b\n"), "x"}}};
  const common::ConfigEdits none{"00aa", base_text.size(), {}};
  EXPECT_FALSE(excerptsOf(base_text, none, e));
  e.base_size = 3;
  EXPECT_FALSE(excerptsOf(base_text, e, none));
}

}  // namespace
}  // namespace mlb::reloader

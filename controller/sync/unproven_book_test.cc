#include "controller/sync/unproven_book.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

namespace mlb::controller {
namespace {

// The list as the manifest had it before the book: every service walked, sorted.
nlohmann::json walked(const std::vector<ServiceRef>& services) {
  std::vector<std::string> ids;
  for (const auto& s : services) {
    for (const auto& srv : s->servers) {
      if (s->health_check && srv.unproven) {
        ids.push_back(s->backend + "/" + srv.name);
      }
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

ServiceRef service(const std::string& backend, std::vector<std::pair<std::string, bool>> servers,
                   bool checked = true) {
  Service s;
  s.app_id = "/" + backend;
  s.backend = backend;
  if (checked) {
    s.health_check = HealthCheck{};
  }
  for (const auto& [name, unproven] : servers) {
    Server srv;
    srv.name = name;
    srv.unproven = unproven;
    s.servers.push_back(srv);
  }
  return s;
}

TEST(UnprovenBook, ListsTheUnprovenServersOfCheckedServicesSorted) {
  UnprovenBook book;
  const std::vector<ServiceRef> model = {
      service("b", {{"s2", true}, {"s1", true}, {"s3", false}}),
      service("a", {{"x\"y", true}}),                   // escaped as JSON
      service("c", {{"s1", true}}, /*checked=*/false),  // no health check: never unproven
  };
  EXPECT_EQ(nlohmann::json::parse(book.json(model)),
            nlohmann::json::array({"a/x\"y", "b/s1", "b/s2"}));
  EXPECT_EQ(book.json({}), "[]");
}

TEST(UnprovenBook, AServiceReplacedOrGoneLeavesTheList) {
  UnprovenBook book;
  std::vector<ServiceRef> model = {service("a", {{"s1", true}}), service("b", {{"s1", true}})};
  EXPECT_EQ(nlohmann::json::parse(book.json(model)), nlohmann::json::array({"a/s1", "b/s1"}));
  model[0] = service("a", {{"s1", false}, {"s2", true}});  // its task proven, a new one not
  EXPECT_EQ(nlohmann::json::parse(book.json(model)), nlohmann::json::array({"a/s2", "b/s1"}));
  model.erase(model.begin() + 1);
  EXPECT_EQ(nlohmann::json::parse(book.json(model)), nlohmann::json::array({"a/s2"}));
}

// Random passes, as the controller makes them (most services the same shared ones,
// a few rebuilt, apps added and removed, a backend claimed twice): the kept list is
// the walked one at every pass.
TEST(UnprovenBook, EqualsAWalkOfTheModelAtEveryPass) {
  std::mt19937 rng(7);
  auto fresh = [&](int app) {
    std::vector<std::pair<std::string, bool>> servers;
    for (int k = static_cast<int>(rng() % 4); k > 0; --k) {
      servers.emplace_back("s" + std::to_string(rng() % 5), rng() % 2 == 0);
    }
    return service("app" + std::to_string(app), servers, rng() % 5 != 0);
  };
  std::vector<ServiceRef> model;
  for (int a = 0; a < 40; ++a) {
    model.push_back(fresh(a));
  }
  UnprovenBook book;
  for (int pass = 0; pass < 300; ++pass) {
    for (int c = static_cast<int>(rng() % 4); c > 0; --c) {
      const size_t at = rng() % (model.size() + 1);
      switch (rng() % 4) {
        case 0:
          model.insert(model.begin() + static_cast<long>(at), fresh(static_cast<int>(rng() % 50)));
          break;
        case 1:
          if (at < model.size()) {
            model.erase(model.begin() + static_cast<long>(at));
          }
          break;
        default:
          if (at < model.size()) {
            model[at] = fresh(static_cast<int>(rng() % 50));
          }
      }
    }
    ASSERT_EQ(nlohmann::json::parse(book.json(model)), walked(model)) << "pass " << pass;
  }
}

}  // namespace
}  // namespace mlb::controller

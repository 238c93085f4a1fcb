#include <gtest/gtest.h>

#include "controller/app/controller_app.h"

namespace mlb::controller {
namespace {

SseEvent event(std::string type, std::vector<std::string> data) {
  return {std::move(type), std::move(data)};
}

TEST(EventAppId, TaskAndHealthEventsNameTheirApp) {
  EXPECT_EQ(eventAppId(event("status_update_event",
                             {R"({"appId":"/shop/web","taskStatus":"TASK_RUNNING"})"})),
            "/shop/web");
  EXPECT_EQ(eventAppId(event("health_status_changed_event", {R"({"appId":"/db","alive":false})"})),
            "/db");
  EXPECT_EQ(eventAppId(event("api_post_event", {R"({"appDefinition":{"id":"/api"}})"})), "/api");
}

TEST(EventAppId, AnythingElseAsksForAFullResync) {
  EXPECT_EQ(eventAppId(event("deployment_success", {R"({"appId":"/x"})"})), "");
  EXPECT_EQ(eventAppId(event("status_update_event", {R"({"appId":"/a"})", R"({"appId":"/b"})"})),
            "");
  EXPECT_EQ(eventAppId(event("status_update_event", {"not json"})), "");
  EXPECT_EQ(eventAppId(event("status_update_event", {R"({"appId":42})"})), "");
  EXPECT_EQ(eventAppId(event("api_post_event", {R"({"appDefinition":"x"})"})), "");
  EXPECT_EQ(eventAppId(event("status_update_event", {})), "");
  EXPECT_EQ(eventAppId(event("status_update_event",
                             {R"({"appId":"/big","pad":")" + std::string(70000, 'x') + "\"}"})),
            "");
}

}  // namespace
}  // namespace mlb::controller

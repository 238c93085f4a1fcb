#include "controller/render/injection_check.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "controller/marathon/app_json.h"
#include "controller/model/service_builder.h"
#include "controller/render/config_renderer.h"

namespace mlb::controller::injection {
namespace {

using nlohmann::json;

// Non-template labels of the web app (app 0), each a slot.
const std::vector<std::pair<std::string, std::string>>& webLabels() {
  static const std::vector<std::pair<std::string, std::string>> kLabels = {
      {"HAPROXY_GROUP", "external"},
      {"HAPROXY_0_VHOST", "web.example.com,www.example.com"},
      {"HAPROXY_0_PATH", "/api"},
      {"HAPROXY_0_BALANCE", "leastconn"},
      {"HAPROXY_0_STICKY", "true"},
      {"HAPROXY_0_REDIRECT_TO_HTTPS", "true"},
      {"HAPROXY_0_USE_HSTS", "true"},
      {"HAPROXY_0_AUTH", "realm:user:$6$hash"},
      {"HAPROXY_0_SSL_CERT", "/etc/ssl/web.pem"},
      {"HAPROXY_0_BIND_OPTIONS", "ciphers AES"},
      {"HAPROXY_0_BIND_ADDR", "127.0.0.1"},
      {"HAPROXY_0_BACKEND_WEIGHT", "5"},
      {"HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8 192.168.0.0/16"},
      {"HAPROXY_0_MODE", "http"},
      {"HAPROXY_0_ENABLED", "true"},
      {"HAPROXY_0_PORT", "10001"},
  };
  return kLabels;
}

const std::vector<std::pair<std::string, std::string>>& proxyLabels() {
  static const std::vector<std::pair<std::string, std::string>> kLabels = {
      {"HAPROXY_GROUP", "external"},
      {"HAPROXY_0_VHOST", "proxy.example.com"},
      {"HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH", "/p"},
      {"HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH", "/r"},
      {"HAPROXY_0_HTTP_BACKEND_REDIR", "/home"},
      {"HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX", "0"},
  };
  return kLabels;
}

const std::vector<std::pair<std::string, std::string>>& blueLabels() {
  static const std::vector<std::pair<std::string, std::string>> kLabels = {
      {"HAPROXY_GROUP", "external"},
      {"HAPROXY_DEPLOYMENT_GROUP", "bg"},
      {"HAPROXY_DEPLOYMENT_ALT_PORT", "10005"},
      {"HAPROXY_DEPLOYMENT_COLOUR", "blue"},
      {"HAPROXY_DEPLOYMENT_STARTED_AT", "2024-01-01T00:00:00.000Z"},
      {"HAPROXY_DEPLOYMENT_TARGET_INSTANCES", "2"},
      {"HAPROXY_0_PORT", "10004"},
  };
  return kLabels;
}

enum Fixed {
  kAppId,
  kTaskId,
  kTaskHost,
  kIpAddress,
  kIpAppId,
  kHealthPath,
  kTaskState,
  kGroupAppId,
  kFixedCount
};
const char* const kFixedNames[] = {"app id",
                                   "task id",
                                   "task host",
                                   "task ipAddress",
                                   "IP-per-task app id",
                                   "health check path",
                                   "task state",
                                   "blue/green app id"};

json labelsWith(const std::vector<std::pair<std::string, std::string>>& labels, int& slot,
                const std::string& value) {
  json out = json::object();
  for (const auto& [k, v] : labels) {
    out[k] = slot-- == 0 ? value : v;
  }
  return out;
}

json task(const std::string& id, const std::string& host, int port, const std::string& state) {
  return {{"id", id},
          {"host", host},
          {"state", state},
          {"ports", {port}},
          {"healthCheckResults", {{{"alive", true}}}}};
}

}  // namespace

int slotCount() {
  return kFixedCount +
         static_cast<int>(webLabels().size() + proxyLabels().size() + blueLabels().size());
}

std::string slotName(int slot) {
  if (slot < kFixedCount) {
    return kFixedNames[slot];
  }
  slot -= kFixedCount;
  for (const auto* labels : {&webLabels(), &proxyLabels(), &blueLabels()}) {
    if (slot < static_cast<int>(labels->size())) {
      return "label " + (*labels)[slot].first;
    }
    slot -= static_cast<int>(labels->size());
  }
  return "?";
}

std::string answer(int slot, const std::string& value) {
  auto pick = [&](int s, const char* trusted) { return slot == s ? value : std::string(trusted); };
  int label_slot = slot - kFixedCount;
  json health = {{{"protocol", "HTTP"},
                  {"path", pick(kHealthPath, "/health")},
                  {"portIndex", 0},
                  {"intervalSeconds", 5},
                  {"timeoutSeconds", 3},
                  {"maxConsecutiveFailures", 2}}};
  json web = {{"id", pick(kAppId, "/shop/web")},
              {"instances", 2},
              {"labels", labelsWith(webLabels(), label_slot, value)},
              {"healthChecks", health},
              {"portDefinitions", {{{"port", 10001}}}},
              {"tasks",
               {task(pick(kTaskId, "shop_web.1"), pick(kTaskHost, "10.0.0.1"), 31001,
                     pick(kTaskState, "TASK_RUNNING")),
                task("shop_web.2", "10.0.0.2", 31002, "TASK_RUNNING")}}};
  json proxy = {{"id", "/proxy"},
                {"instances", 1},
                {"labels", labelsWith(proxyLabels(), label_slot, value)},
                {"portDefinitions", {{{"port", 10002}}}},
                {"tasks", {task("proxy.1", "10.0.0.3", 31003, "TASK_RUNNING")}}};
  json ippt = {
      {"id", pick(kIpAppId, "/ippt")},
      {"instances", 1},
      {"labels", {{"HAPROXY_GROUP", "external"}}},
      {"ipAddress", {{"discovery", {{"ports", {{{"number", 8080}, {"name", "http"}}}}}}}},
      {"tasks",
       {{{"id", "ippt.1"},
         {"host", "10.0.0.4"},
         {"state", "TASK_RUNNING"},
         {"ports", json::array()},
         {"ipAddresses", {{{"ipAddress", pick(kIpAddress, "9.0.0.1")}, {"protocol", "IPv4"}}}}}}}};
  json blue = {{"id", pick(kGroupAppId, "/bg-blue")},
               {"instances", 1},
               {"labels", labelsWith(blueLabels(), label_slot, value)},
               {"portDefinitions", {{{"port", 10004}}}},
               {"tasks", {task("bg.1", "10.0.0.5", 31005, "TASK_RUNNING")}}};
  // JSON is UTF-8: an invalid byte becomes U+FFFD (Marathon cannot send it either).
  return json{{"apps", {web, proxy, ippt, blue}}}.dump(-1, ' ', false,
                                                       json::error_handler_t::replace);
}

namespace {

struct Rendered {
  ServiceModel model;
  std::string config;
};

Rendered renderAnswer(const std::string& body, const TemplateSet& templates) {
  Rendered out;
  std::string padded = body;
  padded.reserve(body.size() + kJsonPadding);
  auto parsed = parseApps(padded);
  if (!parsed) {
    return out;
  }
  BuildOptions build;
  build.groups = {"external"};
  build.health_check = true;
  out.model = buildServices(parsed->apps, build);
  RenderOptions render;
  render.haproxy_map = false;
  render.ssl_certs = {"/etc/ssl/default.pem"};
  auto r = renderConfig(out.model, templates, render);
  if (r) {
    out.config = std::move(r->config);
    // Services the renderer left out are not in the config: not in the model either.
    for (const auto& q : r->quarantined) {
      auto& v = out.model.services;
      v.erase(std::remove_if(v.begin(), v.end(),
                             [&](const Service& s) {
                               return s.app_id == q.app_id && s.port_index == q.port_index;
                             }),
              v.end());
    }
  }
  return out;
}

}  // namespace

Vocabulary baseVocabulary(const TemplateSet& templates) {
  Rendered r = renderAnswer(answer(-1, ""), templates);
  return collectVocabulary(r.config, r.model);
}

common::Status check(int slot, const std::string& value, const TemplateSet& templates,
                     const Vocabulary& vocab) {
  Rendered r = renderAnswer(answer(slot, value), templates);
  if (r.config.empty()) {
    return {};  // rejected as a whole: nothing reaches a config
  }
  return auditConfig(r.config, r.model, vocab);
}

}  // namespace mlb::controller::injection

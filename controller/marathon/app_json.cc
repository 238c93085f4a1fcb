#include "controller/marathon/app_json.h"

#include <simdjson.h>

#include <algorithm>

#include "common/sort.h"

namespace mlb::controller {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// Errors inside one app are reported with the field that failed.
struct FieldError {
  std::string what;
};

std::string errText(const std::string& field, error_code e) {
  return "field '" + field + "': " + simdjson::error_message(e);
}

bool isNull(od::value& v) {
  auto t = v.type();
  return !t.error() && t.value_unsafe() == od::json_type::null;
}

// The readers below try the expected type first and look for null only when that
// fails: a failed get leaves the value unread, and nearly every value has the
// expected type (one type() call fewer per value).

// Reads an optional integer: null or missing gives nullopt.
std::optional<int> readOptInt(od::value v, const char* field, std::string& err) {
  int64_t n = 0;
  if (auto e = v.get_int64().get(n); e) {
    if (isNull(v)) {
      return std::nullopt;
    }
    // Marathon writes integers; accept a whole double too.
    double d = 0;
    if (v.get_double().get(d)) {
      err = errText(field, e);
      return std::nullopt;
    }
    // Range first: converting an out-of-range double to an integer is undefined.
    if (!(d >= INT32_MIN && d <= INT32_MAX)) {
      err = std::string("field '") + field + "': integer out of range";
      return std::nullopt;
    }
    if (d != static_cast<double>(static_cast<int64_t>(d))) {
      err = errText(field, e);
      return std::nullopt;
    }
    n = static_cast<int64_t>(d);
  }
  if (n < INT32_MIN || n > INT32_MAX) {
    err = std::string("field '") + field + "': integer out of range";
    return std::nullopt;
  }
  return static_cast<int>(n);
}

int readInt(od::value v, const char* field, std::string& err, int dflt) {
  auto r = readOptInt(v, field, err);
  return r ? *r : dflt;
}

// A string value as a view. Strings without escapes (nearly all of Marathon's) are
// viewed in the input itself, which spares simdjson's copy into its string buffer:
// at 5000 apps that buffer is tens of megabytes of memory touched for nothing.
error_code viewString(od::value& v, std::string_view& out) {
  std::string_view tok = v.raw_json_token();
  if (tok.size() >= 2 && tok.front() == '"') {
    size_t end = tok.size() - 1;
    while (end > 0 && tok[end] != '"') {  // the token may end with blanks
      --end;
    }
    if (end > 0) {
      std::string_view inner = tok.substr(1, end - 1);
      if (inner.find('\\') == std::string_view::npos) {
        out = inner;
        return simdjson::SUCCESS;
      }
    }
  }
  return v.get_string().get(out);
}

// An object key as a view, without unescaping when it has no escapes.
error_code viewKey(od::field& f, std::string_view& out) {
  const char* start = f.key().raw();
  const char* p = start;
  while (*p != '"' && *p != '\\') {
    ++p;
  }
  if (*p == '"') {
    out = std::string_view(start, static_cast<size_t>(p - start));
    return simdjson::SUCCESS;
  }
  return f.unescaped_key().get(out);
}

std::string readStr(od::value v, const char* field, std::string& err) {
  std::string_view s;
  if (auto e = viewString(v, s); e) {
    if (!isNull(v)) {
      err = errText(field, e);
    }
    return {};
  }
  return std::string(s);
}

bool readBool(od::value v, const char* field, std::string& err) {
  bool b = false;
  if (auto e = v.get_bool().get(b); e) {
    if (!isNull(v)) {
      err = errText(field, e);
    }
    return false;
  }
  return b;
}

// Iterates the fields of an object value; null is an empty object.
template <typename F>
void forFields(od::value v, const char* field, std::string& err, F&& fn) {
  od::object obj;
  if (auto e = v.get_object().get(obj); e) {
    if (!isNull(v)) {
      err = errText(field, e);
    }
    return;
  }
  for (auto fr : obj) {
    od::field f;
    if (auto e = std::move(fr).get(f); e) {
      err = errText(field, e);
      return;
    }
    std::string_view key;
    if (auto e = viewKey(f, key); e) {
      err = errText(field, e);
      return;
    }
    od::value val = f.value();
    fn(key, val);
    if (!err.empty()) {
      return;
    }
  }
}

template <typename F>
void forElements(od::value v, const char* field, std::string& err, F&& fn) {
  od::array arr;
  if (auto e = v.get_array().get(arr); e) {
    if (!isNull(v)) {
      err = errText(field, e);
    }
    return;
  }
  for (auto el : arr) {
    od::value val;
    if (auto e = el.get(val); e) {
      err = errText(field, e);
      return;
    }
    fn(val);
    if (!err.empty()) {
      return;
    }
  }
}

std::vector<int> readIntArray(od::value v, const char* field, std::string& err) {
  std::vector<int> out;
  forElements(v, field, err, [&](od::value el) {
    if (auto n = readOptInt(el, field, err)) {
      out.push_back(*n);
    }
  });
  return out;
}

std::vector<PortMapping> readPortMappings(od::value v, std::string& err) {
  std::vector<PortMapping> out;
  forElements(v, "portMappings", err, [&](od::value el) {
    PortMapping pm;
    forFields(el, "portMappings[]", err, [&](std::string_view k, od::value fv) {
      if (k == "containerPort") {
        pm.container_port = readOptInt(fv, "containerPort", err);
      } else if (k == "hostPort") {
        pm.host_port = readOptInt(fv, "hostPort", err);
      } else if (k == "servicePort") {
        pm.service_port = readOptInt(fv, "servicePort", err);
      }
    });
    out.push_back(pm);
  });
  return out;
}

HealthCheck readHealthCheck(od::value v, std::string& err) {
  HealthCheck hc;
  forFields(v, "healthChecks[]", err, [&](std::string_view k, od::value fv) {
    if (k == "protocol") {
      hc.protocol = readStr(fv, "protocol", err);
    } else if (k == "path") {
      hc.path = readStr(fv, "path", err);
    } else if (k == "portIndex") {
      hc.port_index = readOptInt(fv, "portIndex", err);
    } else if (k == "port") {
      hc.port = readOptInt(fv, "port", err);
    } else if (k == "timeoutSeconds") {
      hc.timeout_seconds = readInt(fv, "timeoutSeconds", err, hc.timeout_seconds);
    } else if (k == "intervalSeconds") {
      hc.interval_seconds = readInt(fv, "intervalSeconds", err, hc.interval_seconds);
    } else if (k == "gracePeriodSeconds") {
      hc.grace_period_seconds = readInt(fv, "gracePeriodSeconds", err, hc.grace_period_seconds);
    } else if (k == "maxConsecutiveFailures") {
      hc.max_consecutive_failures =
          readInt(fv, "maxConsecutiveFailures", err, hc.max_consecutive_failures);
    }
  });
  if (hc.protocol.empty()) {
    hc.protocol = "HTTP";  // Marathon's default protocol
  }
  return hc;
}

MarathonTask readTask(od::value v, std::string& err) {
  MarathonTask t;
  forFields(v, "tasks[]", err, [&](std::string_view k, od::value fv) {
    if (k == "id") {
      t.id = readStr(fv, "tasks[].id", err);
    } else if (k == "host") {
      t.host = readStr(fv, "tasks[].host", err);
    } else if (k == "state") {
      t.state = readStr(fv, "tasks[].state", err);
    } else if (k == "ports") {
      t.ports = readIntArray(fv, "tasks[].ports", err);
    } else if (k == "ipAddresses") {
      bool first = true;
      forElements(fv, "ipAddresses", err, [&](od::value el) {
        forFields(el, "ipAddresses[]", err, [&](std::string_view ik, od::value iv) {
          if (ik == "ipAddress") {
            std::string ip = readStr(iv, "ipAddress", err);
            if (first) {
              t.ip_address = std::move(ip);
            }
          }
        });
        first = false;
      });
    } else if (k == "healthCheckResults") {
      t.health_results_present = true;
      forElements(fv, "healthCheckResults", err, [&](od::value el) {
        ++t.health_results;
        forFields(el, "healthCheckResults[]", err, [&](std::string_view hk, od::value hv) {
          if (hk == "alive" && readBool(hv, "alive", err)) {
            t.any_alive = true;
          }
        });
      });
    }
  });
  return t;
}

void readContainer(od::value v, MarathonApp& app, std::string& err) {
  forFields(v, "container", err, [&](std::string_view k, od::value fv) {
    if (k == "docker") {
      forFields(fv, "container.docker", err, [&](std::string_view dk, od::value dv) {
        if (dk == "network") {
          app.docker_network = readStr(dv, "container.docker.network", err);
        } else if (dk == "portMappings") {
          app.docker_port_mappings = readPortMappings(dv, err);
        }
      });
    } else if (k == "portMappings") {
      app.port_mappings = readPortMappings(fv, err);
    }
  });
}

// Reads one app object. On a field error, `err` says which field and why.
MarathonApp readApp(od::value v, std::string& err) {
  MarathonApp app;
  forFields(v, "app", err, [&](std::string_view k, od::value fv) {
    if (k == "id") {
      app.id = readStr(fv, "id", err);
    } else if (k == "instances") {
      app.instances = readInt(fv, "instances", err, 0);
    } else if (k == "labels") {
      forFields(fv, "labels", err, [&](std::string_view lk, od::value lv) {
        std::string_view s;
        if (auto e = viewString(lv, s); e) {
          err = "label '" + std::string(lk) + "' is not a string";
          return;
        }
        app.labels.emplace(std::string(lk), std::string(s));
      });
    } else if (k == "healthChecks") {
      forElements(fv, "healthChecks", err,
                  [&](od::value el) { app.health_checks.push_back(readHealthCheck(el, err)); });
    } else if (k == "ipAddress") {
      if (!isNull(fv)) {
        app.has_ip_address = true;
        forFields(fv, "ipAddress", err, [&](std::string_view ik, od::value iv) {
          if (ik != "discovery") {
            return;
          }
          forFields(iv, "ipAddress.discovery", err, [&](std::string_view dk, od::value dv) {
            if (dk != "ports") {
              return;
            }
            forElements(dv, "discovery.ports", err, [&](od::value el) {
              forFields(el, "discovery.ports[]", err, [&](std::string_view pk, od::value pv) {
                if (pk == "number") {
                  if (auto n = readOptInt(pv, "discovery.ports[].number", err)) {
                    app.discovery_ports.push_back(*n);
                  }
                }
              });
            });
          });
        });
      }
    } else if (k == "container") {
      readContainer(fv, app, err);
    } else if (k == "networks") {
      forElements(fv, "networks", err, [&](od::value el) {
        forFields(el, "networks[]", err, [&](std::string_view nk, od::value nv) {
          if (nk == "mode") {
            app.network_modes.push_back(readStr(nv, "networks[].mode", err));
          }
        });
      });
    } else if (k == "portDefinitions") {
      if (!isNull(fv)) {
        app.has_port_definitions = true;
      }
      forElements(fv, "portDefinitions", err, [&](od::value el) {
        std::optional<int> port;
        forFields(el, "portDefinitions[]", err, [&](std::string_view pk, od::value pv) {
          if (pk == "port") {
            port = readOptInt(pv, "portDefinitions[].port", err);
          }
        });
        app.port_definitions.push_back(port);
      });
    } else if (k == "ports") {
      app.legacy_ports = readIntArray(fv, "ports", err);
    } else if (k == "versionInfo") {
      forFields(fv, "versionInfo", err, [&](std::string_view vk, od::value vv) {
        if (vk == "lastScalingAt") {
          app.last_scaling_at = readStr(vv, "versionInfo.lastScalingAt", err);
        }
      });
    } else if (k == "tasks") {
      // Marathon writes "instances" before "tasks": a good guess of the count.
      app.tasks.reserve(static_cast<size_t>(std::clamp(app.instances, 0, 1024)));
      forElements(fv, "tasks", err, [&](od::value el) { app.tasks.push_back(readTask(el, err)); });
    }
  });
  if (err.empty() && (app.id.empty() || app.id[0] != '/')) {
    err = "app id '" + app.id + "' is not an absolute path";
  }
  // Marathon's ids are letters, digits, '-', '.' and '/': a blank or a control
  // character would reach the config (comments, ACLs, map files).
  if (err.empty() && std::any_of(app.id.begin(), app.id.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      })) {
    err = "app id has a blank or a control character";
  }
  return app;
}

struct Padded {
  simdjson::padded_string copy;
  simdjson::padded_string_view view;
};

Padded padBody(std::string_view body, size_t capacity) {
  Padded p;
  if (capacity >= body.size() + simdjson::SIMDJSON_PADDING) {
    p.view = simdjson::padded_string_view(body.data(), body.size(), capacity);
  } else {
    p.copy = simdjson::padded_string(body);
    p.view = simdjson::padded_string_view(p.copy);
  }
  return p;
}

std::string describe(std::string_view body) {
  std::string head(body.substr(0, 60));
  for (char& c : head) {
    if (static_cast<unsigned char>(c) < 0x20) {
      c = ' ';
    }
  }
  return "(" + std::to_string(body.size()) + " bytes, starting '" + head + "')";
}

// The JSON syntax error of the whole answer, "" when it is well-formed. The lazy
// parser reports a cut or garbled answer only where it meets the damage, as an error
// of the app it was reading; the full (DOM) parse tells the two apart. Only run when
// an app could not be read: a rare path.
std::string syntaxError(const simdjson::padded_string_view& body) {
  simdjson::dom::parser dom;
  simdjson::dom::element root;
  if (auto e = dom.parse(body.data(), body.size(), false).get(root); e) {
    return simdjson::error_message(e);
  }
  return "";
}

common::Result<ParsedApps> parseAppsWith(od::parser& parser, std::string_view body,
                                         size_t capacity) {
  static_assert(kJsonPadding >= simdjson::SIMDJSON_PADDING);
  Padded padded = padBody(body, capacity);
  od::document doc;
  if (auto e = parser.iterate(padded.view).get(doc); e) {
    return common::Error::invalidData(
        "marathon /v2/apps: not JSON: " + std::string(simdjson::error_message(e)) + " " +
        describe(body));
  }
  od::object root;
  if (auto e = doc.get_object().get(root); e) {
    return common::Error::invalidData("marathon /v2/apps: body is not a JSON object " +
                                      describe(body));
  }
  ParsedApps out;
  bool saw_apps = false;
  bool syntax_checked = false;
  size_t index = 0;
  for (auto field : root) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e) {
      return common::Error::invalidData("marathon /v2/apps: " +
                                        std::string(simdjson::error_message(e)));
    }
    if (key != "apps") {
      continue;
    }
    saw_apps = true;
    od::array apps;
    if (auto e = field.value().get_array().get(apps); e) {
      return common::Error::invalidData("marathon /v2/apps: \"apps\" is not an array");
    }
    for (auto el : apps) {
      od::value v;
      if (auto e = el.get(v); e) {
        return common::Error::invalidData("marathon /v2/apps: " +
                                          std::string(simdjson::error_message(e)));
      }
      std::string err;
      MarathonApp app = readApp(v, err);
      app.answer_index = index++;
      if (!err.empty()) {
        // One app's bad value, or the answer itself cut or garbled (Marathon never sends
        // broken JSON for one app): then the whole answer is refused. The whole answer
        // is parsed once, at the first app that cannot be read.
        if (!syntax_checked) {
          syntax_checked = true;
          if (std::string syntax = syntaxError(padded.view); !syntax.empty()) {
            return common::Error::invalidData("marathon /v2/apps: not JSON: " + syntax + " " +
                                              describe(body));
          }
        }
        out.skipped.push_back({app.id, err});
        continue;
      }
      out.apps.push_back(std::move(app));
    }
  }
  if (!saw_apps) {
    return common::Error::invalidData("marathon /v2/apps: body is not {\"apps\": [...]} " +
                                      describe(body));
  }
  common::sortByPermutation(out.apps,
                            [](const MarathonApp& a, const MarathonApp& b) { return a.id < b.id; });
  size_t kept = 0;
  for (size_t i = 0; i < out.apps.size(); ++i) {
    if (kept > 0 && out.apps[kept - 1].id == out.apps[i].id) {
      out.skipped.push_back({out.apps[i].id, "duplicate app id in the answer"});
      continue;
    }
    if (kept != i) {
      out.apps[kept] = std::move(out.apps[i]);
    }
    ++kept;
  }
  out.apps.erase(out.apps.begin() + static_cast<std::ptrdiff_t>(kept), out.apps.end());
  // The vector grew by doubling; the model lives through the pass (and in the
  // reconciler's cache until the next answer), so give back the slack.
  out.apps.shrink_to_fit();
  return out;
}

common::Result<MarathonApp> parseSingleAppWith(od::parser& parser, const std::string& body) {
  Padded padded = padBody(body, body.capacity());
  od::document doc;
  if (auto e = parser.iterate(padded.view).get(doc); e) {
    return common::Error::invalidData("marathon /v2/apps/<id>: not JSON " + describe(body));
  }
  od::value app_value;
  if (auto e = doc["app"].get(app_value); e) {
    return common::Error::invalidData("marathon /v2/apps/<id>: body is not {\"app\": {...}} " +
                                      describe(body));
  }
  std::string err;
  MarathonApp app = readApp(app_value, err);
  if (!err.empty()) {
    return common::Error::invalidData("app " + app.id + ": " + err);
  }
  return app;
}

}  // namespace

// A parser per call, on purpose: simdjson's parser touches about 14 MB of index
// buffers for a 29 MB answer. Keeping one across passes saves their page faults
// (~9 ms at 5000 apps) but keeps those megabytes resident between passes, and
// full answers are rare (resyncs, reconnects): measured with
// bench/publish_bench.py at 5000 apps, the controller's RSS was 75 MB idle and
// 116 MB at the peak of the storm with a kept parser, 47 and 89 MB without.
common::Result<ParsedApps> parseApps(const std::string& body) {
  od::parser parser;
  return parseAppsWith(parser, body, body.capacity());
}

common::Result<ParsedApps> parseApps(std::string_view body, size_t capacity) {
  od::parser parser;
  return parseAppsWith(parser, body, capacity);
}

common::Result<MarathonApp> parseSingleApp(const std::string& body) {
  od::parser parser;
  return parseSingleAppWith(parser, body);
}

}  // namespace mlb::controller

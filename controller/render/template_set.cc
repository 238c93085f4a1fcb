#include "controller/render/template_set.h"

#include <algorithm>
#include <set>

namespace mlb::controller {

bool isRawTemplate(std::string_view name) {
  static const std::set<std::string, std::less<>> raw = {
      "HEAD",
      "HTTP_FRONTEND_HEAD",
      "HTTP_FRONTEND_APPID_HEAD",
      "HTTPS_GROUPED_FRONTEND_HEAD",
      "HTTP_BACKEND_ACL_ALLOW_DENY",
      "TCP_BACKEND_ACL_ALLOW_DENY",
      "BACKEND_HTTP_OPTIONS",
      "BACKEND_HSTS_OPTIONS",
      "BACKEND_STICKY_OPTIONS",
  };
  return raw.count(name) > 0;
}

common::Result<std::string> legacyToMustache(std::string_view name, std::string_view text) {
  if (isRawTemplate(name)) {
    if (text.find("{{") != std::string_view::npos) {
      return common::Error::invalidTemplate("HAPROXY_" + std::string(name) +
                                            ": '{{' in a verbatim template is not supported");
    }
    return std::string(text);
  }
  auto translated = translateLegacyTemplate(text);
  if (!translated) {
    return common::Error::invalidTemplate("HAPROXY_" + std::string(name) + ": " +
                                          translated.error().message);
  }
  return translated;
}

common::Status TemplateSet::add(const std::string& name, const std::string& mustache,
                                const std::string& origin) {
  auto t = Template::compile(mustache);
  if (!t) {
    return common::Error::invalidTemplate(origin + ": " + t.error().message);
  }
  templates_.insert_or_assign(name, std::move(*t));
  origins_[name] = origin;
  return common::Status::ok();
}

// Every file of `dir` named HAPROXY_<NAME>.mustache or HAPROXY_<NAME>, in name order.
common::Status TemplateSet::addDirectory(const std::string& dir, common::FileSystem& fs) {
  auto listed = fs.listDir(dir);
  if (!listed) {
    return common::Error::io("--templates-dir " + dir + ": cannot open directory");
  }
  std::vector<std::string> files;
  for (const auto& f : *listed) {
    if (f.rfind("HAPROXY_", 0) == 0) {
      files.push_back(f);
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const bool mustache = f.size() > 9 && f.substr(f.size() - 9) == ".mustache";
    std::string name = f.substr(8, f.size() - 8 - (mustache ? 9 : 0));
    const std::string path = dir + "/" + f;
    if (!builtinTemplates().count(name)) {
      return common::Error::invalidTemplate(path + ": HAPROXY_" + name + " is not a template name");
    }
    auto text = fs.readFile(path);
    if (!text) {
      return common::Error::io(path + ": cannot read");
    }
    if (!mustache) {
      auto m = legacyToMustache(name, *text);
      if (!m) {
        return common::Error::invalidTemplate(path + ": " + m.error().message);
      }
      text = std::move(*m);
    }
    if (auto st = add(name, *text, path); !st) {
      return st;
    }
  }
  return common::Status::ok();
}

// HAPROXY_<NAME> variables (marathon-lb syntax; a literal "\n" is a newline).
common::Status TemplateSet::addEnvironment(const std::map<std::string, std::string>& env) {
  for (const auto& [key, value] : env) {
    if (key.rfind("HAPROXY_", 0) != 0) {
      continue;
    }
    std::string name = key.substr(8);
    if (!builtinTemplates().count(name)) {
      continue;  // other HAPROXY_* variables (HAPROXY_SSL_CERT, ...) are not templates
    }
    std::string text;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\\' && i + 1 < value.size() && value[i + 1] == 'n') {
        text.push_back('\n');
        ++i;
      } else {
        text.push_back(value[i]);
      }
    }
    auto m = legacyToMustache(name, text);
    if (!m) {
      return common::Error::invalidTemplate("env " + key + ": " + m.error().message);
    }
    if (auto st = add(name, *m, "env " + key); !st) {
      return st;
    }
  }
  return common::Status::ok();
}

common::Result<TemplateSet> TemplateSet::load(const std::string& dir,
                                              const std::map<std::string, std::string>& env,
                                              common::FileSystem& fs) {
  TemplateSet set;
  for (const auto& [name, text] : builtinTemplates()) {
    if (auto st = set.add(name, text, "builtin"); !st) {
      return st.error();
    }
  }
  if (!dir.empty()) {
    if (auto st = set.addDirectory(dir, fs); !st) {
      return st.error();
    }
  }
  if (auto st = set.addEnvironment(env); !st) {
    return st.error();
  }
  return set;
}

const Template& TemplateSet::get(std::string_view name) const {
  auto it = templates_.find(name);
  MLB_CHECK(it != templates_.end());
  return it->second;
}

}  // namespace mlb::controller

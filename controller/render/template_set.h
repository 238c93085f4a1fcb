#pragma once
// The global templates: mlb's defaults (templates/*.mustache, compiled into the
// binary), replaced by files from --templates-dir and by HAPROXY_<NAME>
// environment variables, as marathon-lb does.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs/file_system.h"
#include "common/result.h"
#include "controller/render/template.h"

namespace mlb::controller {

// Name (without the HAPROXY_ prefix) -> Mustache text of mlb's default templates.
const std::map<std::string, std::string>& builtinTemplates();

// True for the templates marathon-lb appends verbatim instead of formatting
// (HEAD, BACKEND_HTTP_OPTIONS, ...): their legacy text has no placeholders.
bool isRawTemplate(std::string_view name);

// Converts one template given in marathon-lb's syntax (a label, an environment
// variable or a legacy file) into Mustache text.
common::Result<std::string> legacyToMustache(std::string_view name, std::string_view text);

class TemplateSet {
 public:
  // Loads the defaults, then every file of `dir` (when not empty) named
  // HAPROXY_<NAME>.mustache (Mustache) or HAPROXY_<NAME> (marathon-lb syntax),
  // then `env` entries HAPROXY_<NAME> (marathon-lb syntax; a literal "\n" is a
  // newline). An unknown template name or a template that does not compile is an
  // Error naming the file or variable. The files are read through `fs`.
  static common::Result<TemplateSet> load(const std::string& dir,
                                          const std::map<std::string, std::string>& env,
                                          common::FileSystem& fs = common::realFileSystem());
  // The template `name` (without HAPROXY_). Aborts on a name that is not a template.
  const Template& get(std::string_view name) const;
  // Where each template came from ("builtin", a path, "env HAPROXY_X").
  const std::map<std::string, std::string>& origins() const { return origins_; }

 private:
  common::Status add(const std::string& name, const std::string& mustache,
                     const std::string& origin);
  common::Status addDirectory(const std::string& dir, common::FileSystem& fs);
  common::Status addEnvironment(const std::map<std::string, std::string>& env);

  std::map<std::string, Template, std::less<>> templates_;
  std::map<std::string, std::string> origins_;
};

}  // namespace mlb::controller

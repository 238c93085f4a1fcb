#include "common/flags.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "common/strings.h"

namespace mlb::common {

std::string flagEnvName(const std::string& flag) {
  std::string var = "MLB_";
  for (size_t i = flag.rfind("--", 0) == 0 ? 2 : 0; i < flag.size(); ++i) {
    const char c = flag[i];
    var.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return var;
}

Result<bool> parseSwitchWord(const std::string& flag, const std::string& value) {
  std::string word = trim(value);
  for (char& c : word) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (word == "true" || word == "1" || word == "yes" || word == "on") {
    return true;
  }
  if (word == "false" || word == "0" || word == "no" || word == "off") {
    return false;
  }
  return Error::invalidArgument(flag + " " + value +
                                ": expected true or false (1/0, yes/no, on/off)");
}

Result<int> parseIntFlag(const std::string& flag, const std::string& value, int lo, int hi) {
  const std::string v = trim(value);
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || end == v.c_str() || *end != '\0' || errno != 0 || n < lo || n > hi) {
    return Error::invalidArgument(flag + " " + value + ": not an integer in [" +
                                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int>(n);
}

Result<double> parseNumberFlag(const std::string& flag, const std::string& value, double lo,
                               double hi) {
  const std::string v = trim(value);
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0' || !(d >= lo && d <= hi)) {
    return Error::invalidArgument(flag + " " + value + ": not a number in [" + std::to_string(lo) +
                                  ", " + std::to_string(hi) + "]");
  }
  return d;
}

Result<std::chrono::milliseconds> parseSecondsFlag(const std::string& flag,
                                                   const std::string& value) {
  auto d = parseNumberFlag(flag, value, 0, 86400 * 7);
  if (!d) {
    return Error::invalidArgument(flag + " " + value + ": not a number of seconds");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(*d * 1000));
}

namespace {

struct Reader {
  const std::vector<std::string>& args;
  const ArityOf& arity;
  const CommandLineRules& rules;
  size_t i = 0;

  std::string longName(const std::string& a) const {
    auto it = rules.aliases.find(a);
    return it == rules.aliases.end() ? a : it->second;
  }
  // Whether `a` starts another option (then it is not a value of the previous one).
  bool isOption(const std::string& a) const {
    return a.rfind("--", 0) == 0 || rules.aliases.count(a) == 1 || a == "-h";
  }
  std::optional<FlagArity> arityOf(const std::string& name, bool& ignored) const {
    if (auto it = rules.ignored.find(name); it != rules.ignored.end()) {
      ignored = true;
      return it->second;
    }
    return arity(name);
  }
  // The values of the flag at args[i] (advancing i).
  Status values(FlagUse& use, FlagArity a, const std::optional<std::string>& inline_value) {
    if (inline_value) {
      use.values.push_back(*inline_value);
      return {};
    }
    if (a == FlagArity::Switch) {
      return {};
    }
    while (i + 1 < args.size() && !isOption(args[i + 1])) {
      use.values.push_back(args[++i]);
      if (a == FlagArity::One) {
        break;
      }
    }
    if (use.values.empty() && !use.ignored) {
      return Error::invalidArgument(use.name + " needs a value");
    }
    return {};
  }
  // One word of the command line (a flag with its values, or a positional).
  Status word(CommandLine& line) {
    const std::string& a = args[i];
    if (!isOption(a)) {
      if (!rules.positionals) {
        return Error::invalidArgument("unexpected argument '" + a + "'");
      }
      line.positionals.push_back(a);
      return {};
    }
    FlagUse use{longName(a), {}, false};
    std::optional<std::string> inline_value;
    if (auto eq = use.name.find('='); eq != std::string::npos && use.name.rfind("--", 0) == 0) {
      inline_value = use.name.substr(eq + 1);
      use.name.resize(eq);
    }
    auto a_arity = arityOf(use.name, use.ignored);
    if (!a_arity) {
      return Error::invalidArgument("unknown flag '" + a + "'");
    }
    Status s = values(use, *a_arity, inline_value);
    if (s) {
      line.uses.push_back(std::move(use));
    }
    return s;
  }
};

}  // namespace

Result<CommandLine> readCommandLine(const std::vector<std::string>& args, const ArityOf& arity,
                                    const CommandLineRules& rules) {
  CommandLine line;
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      line.help = true;
      return line;
    }
  }
  Reader reader{args, arity, rules};
  for (; reader.i < args.size(); ++reader.i) {
    Status s = reader.word(line);
    if (!s) {
      return s.error();
    }
  }
  return line;
}

std::optional<std::pair<std::string, std::string>> environmentValue(
    const std::string& flag, const std::map<std::string, std::string>& env,
    const CommandLineRules& rules) {
  std::string var = flagEnvName(flag);
  auto it = env.find(var);
  if (it == env.end()) {
    if (auto fb = rules.env_fallback.find(flag); fb != rules.env_fallback.end()) {
      var = fb->second;
      it = env.find(var);
    }
  }
  if (it == env.end() || it->second.empty()) {
    return std::nullopt;
  }
  return std::make_pair(var, it->second);
}

}  // namespace mlb::common

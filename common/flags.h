#pragma once
// One way every mlb binary reads its flags. Each binary has one table of Flag<T>:
// a name, how many values it takes, and what it does to the binary's settings T.
// Values come from MLB_<FLAG> environment variables first, then from the command
// line, which wins. The command line is read the same way everywhere:
//   --name value | --name=value | --switch | --many v1 v2 ... (up to the next option)
// plus each binary's short aliases, its ignored (marathon-lb) flags and positionals.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::common {

enum class FlagArity { Switch, One, Many };

template <typename T>
struct Flag {
  const char* name;  // "--state-dir"
  FlagArity arity;
  // Applies the flag's values. An error names the flag. A switch gets no value when
  // it is set, and {"false"} when it is given false (--x=false, MLB_X=0): it then
  // undoes itself, so the command line can turn off what the environment set.
  std::function<Status(const std::vector<std::string>& values, T& out)> apply;
  bool from_env = true;  // also read MLB_<FLAG> (one-shot modes are not)
};

template <typename T>
using FlagTable = std::vector<Flag<T>>;

// How one binary's command line differs, besides its table.
struct CommandLineRules {
  std::map<std::string, std::string> aliases;  // "-m" -> "--marathon"
  // Flags accepted and not applied (marathon-lb's that mlb does without): the
  // reader skips them and their value, the caller says what mlb does instead.
  std::map<std::string, FlagArity> ignored;
  // A second environment variable read when MLB_<FLAG> is not set.
  std::map<std::string, std::string> env_fallback;
  bool positionals = false;  // words that are not flags nor values (file names)
};

struct FlagUse {
  std::string name;  // the long name, aliases resolved
  std::vector<std::string> values;
  bool ignored = false;  // one of the rules' ignored flags
};

struct CommandLine {
  bool help = false;  // -h or --help: nothing else was read
  std::vector<FlagUse> uses;
  std::vector<std::string> positionals;
};

// "--max-old-workers" -> "MLB_MAX_OLD_WORKERS".
std::string flagEnvName(const std::string& flag);

// A switch's value in the environment or after '=', in any case: true/1/yes/on or
// false/0/no/off.
Result<bool> parseSwitchWord(const std::string& flag, const std::string& value);
// An integer in [lo, hi].
Result<int> parseIntFlag(const std::string& flag, const std::string& value, int lo, int hi);
// A decimal number in [lo, hi].
Result<double> parseNumberFlag(const std::string& flag, const std::string& value, double lo,
                               double hi);
// A number of seconds in [0, a week], to the millisecond.
Result<std::chrono::milliseconds> parseSecondsFlag(const std::string& flag,
                                                   const std::string& value);

// The flags' arity by name; nothing for an unknown flag.
using ArityOf = std::function<std::optional<FlagArity>(const std::string& name)>;

// The command line as uses of flags, in order. Errors: an unknown flag, a missing
// value, a positional where the rules have none.
Result<CommandLine> readCommandLine(const std::vector<std::string>& args, const ArityOf& arity,
                                    const CommandLineRules& rules);

// The environment variable and value for `flag`, when one is set and not empty.
std::optional<std::pair<std::string, std::string>> environmentValue(
    const std::string& flag, const std::map<std::string, std::string>& env,
    const CommandLineRules& rules);

template <typename T>
const Flag<T>* findFlag(const FlagTable<T>& table, const std::string& name) {
  for (const auto& f : table) {
    if (name == f.name) {
      return &f;
    }
  }
  return nullptr;
}

// Applies one flag. A switch's word (from the environment or after '=') is read
// here: its apply sees no value (set) or {"false"} (unset).
template <typename T>
Status applyFlag(const Flag<T>& flag, const std::vector<std::string>& values, T& out) {
  if (flag.arity != FlagArity::Switch || values.empty()) {
    return flag.apply(values, out);
  }
  auto on = parseSwitchWord(flag.name, values[0]);
  if (!on) {
    return on.error();
  }
  return *on ? flag.apply({}, out) : flag.apply({"false"}, out);
}

// Whether a switch's apply was asked to set it (no value) or to unset it.
inline bool switchSet(const std::vector<std::string>& values) { return values.empty(); }

// Builders for the usual kinds of flag. `field(t)` returns a reference into the
// settings; `from_env` as in Flag.

// A switch: sets field(t) to `value` (to !value when given false).
template <typename T, typename Field>
Flag<T> switchFlag(const char* name, Field field, bool value = true, bool from_env = true) {
  return {name, FlagArity::Switch,
          [field, value](const std::vector<std::string>& v, T& t) -> Status {
            field(t) = switchSet(v) ? value : !value;
            return {};
          },
          from_env};
}

// One value, stored as given.
template <typename T, typename Field>
Flag<T> textFlag(const char* name, Field field, bool from_env = true) {
  return {name, FlagArity::One,
          [field](const std::vector<std::string>& v, T& t) -> Status {
            field(t) = v[0];
            return {};
          },
          from_env};
}

// One value read by `parse(name, text)` (a Result), then given to `store(t, value)`.
template <typename T, typename Parse, typename Store>
Flag<T> parsedFlag(const char* name, Parse parse, Store store, bool from_env = true) {
  return {name, FlagArity::One,
          [name, parse, store](const std::vector<std::string>& v, T& t) -> Status {
            auto parsed = parse(name, v[0]);
            if (!parsed) {
              return parsed.error();
            }
            store(t, *parsed);
            return {};
          },
          from_env};
}

// Parsers for parsedFlag.
inline auto integerIn(int lo, int hi) {
  return [lo, hi](const std::string& flag, const std::string& value) {
    return parseIntFlag(flag, value, lo, hi);
  };
}
inline auto numberIn(double lo, double hi) {
  return [lo, hi](const std::string& flag, const std::string& value) {
    return parseNumberFlag(flag, value, lo, hi);
  };
}

// An integer in [lo, hi] stored at field(t).
template <typename T, typename Field>
Flag<T> intFlag(const char* name, Field field, int lo, int hi, bool from_env = true) {
  return parsedFlag<T>(
      name, integerIn(lo, hi), [field](T& t, int n) { field(t) = n; }, from_env);
}

// A number of seconds stored at field(t) as milliseconds.
template <typename T, typename Field>
Flag<T> secondsFlag(const char* name, Field field, bool from_env = true) {
  return parsedFlag<T>(
      name, parseSecondsFlag, [field](T& t, std::chrono::milliseconds ms) { field(t) = ms; },
      from_env);
}

// MLB_<FLAG> for every flag read from the environment; an error names the variable.
template <typename T>
Status applyEnvironment(const FlagTable<T>& table, const std::map<std::string, std::string>& env,
                        T& out, const CommandLineRules& rules = {}) {
  for (const auto& flag : table) {
    if (!flag.from_env) {
      continue;
    }
    if (auto var = environmentValue(flag.name, env, rules)) {
      Status s = applyFlag(flag, {var->second}, out);
      if (!s) {
        return Error{s.error().code, var->first + ": " + s.error().message};
      }
    }
  }
  return {};
}

// Reads the command line against the table.
template <typename T>
Result<CommandLine> readFlags(const FlagTable<T>& table, const std::vector<std::string>& args,
                              const CommandLineRules& rules = {}) {
  return readCommandLine(
      args,
      [&table](const std::string& name) -> std::optional<FlagArity> {
        const Flag<T>* f = findFlag(table, name);
        return f ? std::optional<FlagArity>(f->arity) : std::nullopt;
      },
      rules);
}

// Applies what readFlags read, in order (ignored flags are left to the caller).
template <typename T>
Status applyUses(const FlagTable<T>& table, const std::vector<FlagUse>& uses, T& out) {
  for (const auto& use : uses) {
    if (use.ignored) {
      continue;
    }
    Status s = applyFlag(*findFlag(table, use.name), use.values, out);
    if (!s) {
      return s;
    }
  }
  return {};
}

// A table over a part of T: each flag applies to part(t). `part` may return a
// reference or a small struct of references.
template <typename T, typename U, typename Part>
FlagTable<T> projectFlags(const FlagTable<U>& table, Part part) {
  FlagTable<T> out;
  for (const auto& f : table) {
    out.push_back({f.name, f.arity,
                   [apply = f.apply, part](const std::vector<std::string>& values, T& t) {
                     auto&& u = part(t);  // a reference, or a struct of references
                     return apply(values, u);
                   },
                   f.from_env});
  }
  return out;
}

}  // namespace mlb::common

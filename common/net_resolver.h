#pragma once
// Host name -> IPv4 address for Mesos agents registered by name (marathon-lb resolved
// them with gethostbyname and a cache). Each name is looked up in the background with
// a bounded wait: a slow DNS never stalls a pass longer than `timeout` per name, and
// the answer, when it comes, serves the next pass. Answers are cached for `ttl`,
// failures for `negative_ttl`. Thread-safe.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace mlb::common {

class HostResolver {
 public:
  using Lookup = std::function<std::optional<std::string>(const std::string& host)>;
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds timeout{200};
    std::chrono::milliseconds ttl{300000};
    std::chrono::milliseconds negative_ttl{30000};
    size_t max_entries = 10000;
  };
  // `lookup` defaults to getaddrinfo (IPv4); `now` to the steady clock (tests: fakes).
  explicit HostResolver(Options options, Lookup lookup = {},
                        std::function<Clock::time_point()> now = {});
  // The address of `host`, or nullopt when it does not resolve (yet).
  std::optional<std::string> resolve(const std::string& host);

 private:
  struct Entry {
    std::optional<std::string> address;
    Clock::time_point expires;
  };
  struct Pending;
  Options options_;
  Lookup lookup_;
  std::function<Clock::time_point()> now_;
  std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::map<std::string, Entry>> cache_ =
      std::make_shared<std::map<std::string, Entry>>();
  std::map<std::string, std::shared_ptr<Pending>> pending_;
};

// getaddrinfo(host, AF_INET): the first IPv4 address as text, or nullopt.
std::optional<std::string> lookupIpv4(const std::string& host);

}  // namespace mlb::common

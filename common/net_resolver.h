#pragma once
// Host name -> IPv4 address for Mesos agents registered by name (marathon-lb resolved
// them with gethostbyname and a cache). Lookups run in the background, each in its own
// thread (in parallel). An answer is served from the cache, and still served once
// expired while its refresh runs (a refresh starts at 80% of `ttl`): a slow DNS never
// drops a task at an expiry. Only a name with no answer yet is waited for, and all such
// waits share one bound, `timeout` per second however many names are cold: a pass
// never stalls N x timeout. Failures are cached for `negative_ttl`. An answer that
// comes after its caller stopped waiting, or a refresh that changes an address, calls
// the function set by onLateAnswer (a new pass has a task the last one left out).
// Thread-safe.
#include <chrono>
#include <cstdint>
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
  // `fn` runs on a lookup thread, under the resolver's lock (it must not resolve); an
  // empty `fn` stops the calls, none runs after this returns.
  void onLateAnswer(std::function<void()> fn);
  // The names that have an answer, with it; `changes()` grows whenever an answer is
  // new or different (a caller keeps the snapshot when it moved).
  std::map<std::string, std::string> answers() const;
  uint64_t changes() const;
  // Answers kept from an earlier run: served at once (a restarted controller with a
  // slow DNS keeps every named agent's tasks) and refreshed in the background.
  void seed(const std::map<std::string, std::string>& answers);

 private:
  struct Entry {
    std::optional<std::string> address;
    Clock::time_point expires;     // a failure: looked up again after it
    Clock::time_point refresh_at;  // an answer: refreshed in the background after it
  };
  struct Pending;
  std::shared_ptr<Pending> startLookup(const std::string& host);
  std::chrono::milliseconds waitBudget();
  Options options_;
  Lookup lookup_;
  std::function<Clock::time_point()> now_;
  std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::map<std::string, Entry>> cache_ =
      std::make_shared<std::map<std::string, Entry>>();
  std::shared_ptr<std::function<void()>> on_late_ = std::make_shared<std::function<void()>>();
  std::shared_ptr<uint64_t> changes_ = std::make_shared<uint64_t>(0);
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  // The waits of the current second (real time): together at most options_.timeout.
  std::chrono::steady_clock::time_point window_start_{};
  std::chrono::steady_clock::duration waited_{};
};

// getaddrinfo(host, AF_INET): the first IPv4 address as text, or nullopt.
std::optional<std::string> lookupIpv4(const std::string& host);

}  // namespace mlb::common

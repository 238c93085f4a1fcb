#include "common/net_resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <condition_variable>
#include <thread>

namespace mlb::common {

std::optional<std::string> lookupIpv4(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return std::nullopt;
  }
  char buf[INET_ADDRSTRLEN] = {};
  const auto* in = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
  const bool ok = ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf) != nullptr;
  ::freeaddrinfo(res);
  return ok ? std::optional<std::string>(buf) : std::nullopt;
}

// One lookup in flight: the worker thread fills it; resolve() waits on it (bounded).
struct HostResolver::Pending {
  std::condition_variable cv;
  bool done = false;
  bool abandoned = false;  // its caller stopped waiting: the answer is late
};

HostResolver::HostResolver(Options options, Lookup lookup, std::function<Clock::time_point()> now)
    : options_(options),
      lookup_(lookup ? std::move(lookup) : Lookup(lookupIpv4)),
      now_(now ? std::move(now) : std::function<Clock::time_point()>(Clock::now)) {}

std::shared_ptr<HostResolver::Pending> HostResolver::startLookup(const std::string& host) {
  auto& pending = pending_[host];
  if (pending && !pending->done) {
    return pending;  // one lookup per name at a time
  }
  pending = std::make_shared<Pending>();
  if (cache_->size() >= options_.max_entries) {
    cache_->clear();  // bounded memory: a cache only
  }
  // The worker owns copies of what it touches: it may outlive a resolve() that timed
  // out (and, detached, even this object).
  std::thread([host, p = pending, mu = mu_, cache = cache_, lookup = lookup_, options = options_,
               now = now_, late = on_late_, changes = changes_] {
    auto address = lookup(host);
    std::lock_guard<std::mutex> l(*mu);
    const auto t = now();
    auto& entry = (*cache)[host];
    const bool news = address && (p->abandoned || (entry.address && entry.address != address));
    *changes += address && entry.address != address ? 1 : 0;
    if (news && *late) {
      (*late)();
    }
    if (!address && entry.address) {
      // A refresh that failed keeps the answer it had (retried after negative_ttl):
      // one DNS error never drops an agent's tasks.
      entry.refresh_at = t + options.negative_ttl;
    } else {
      entry = {address, t + (address ? options.ttl : options.negative_ttl),
               t + options.ttl * 4 / 5};
    }
    p->done = true;
    p->cv.notify_all();
  }).detach();
  return pending;
}

std::chrono::milliseconds HostResolver::waitBudget() {
  const auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    waited_ = {};
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::duration(options_.timeout) - waited_);
  return std::max(std::chrono::milliseconds(0), left);
}

std::optional<std::string> HostResolver::resolve(const std::string& host) {
  std::unique_lock<std::mutex> lock(*mu_);
  const auto now = now_();
  if (auto it = cache_->find(host); it != cache_->end()) {
    if (it->second.address) {
      if (now >= it->second.refresh_at) {
        startLookup(host);  // in the background: the answer serves meanwhile
      }
      return it->second.address;
    }
    if (it->second.expires > now) {
      return std::nullopt;  // a failure, not yet due again
    }
  }
  auto p = startLookup(host);
  const auto t0 = std::chrono::steady_clock::now();
  p->cv.wait_for(lock, waitBudget(), [&] { return p->done; });
  waited_ += std::chrono::steady_clock::now() - t0;
  if (!p->done) {
    p->abandoned = true;
    return std::nullopt;  // not yet: the answer calls onLateAnswer's function
  }
  if (pending_[host] == p) {
    pending_.erase(host);
  }
  auto it = cache_->find(host);
  return it == cache_->end() ? std::nullopt : it->second.address;
}

std::map<std::string, std::string> HostResolver::answers() const {
  std::lock_guard<std::mutex> l(*mu_);
  std::map<std::string, std::string> out;
  for (const auto& [host, entry] : *cache_) {
    if (entry.address) {
      out.emplace(host, *entry.address);
    }
  }
  return out;
}

uint64_t HostResolver::changes() const {
  std::lock_guard<std::mutex> l(*mu_);
  return *changes_;
}

void HostResolver::seed(const std::map<std::string, std::string>& answers) {
  std::lock_guard<std::mutex> l(*mu_);
  const auto t = now_();
  for (const auto& [host, address] : answers) {
    if (cache_->size() < options_.max_entries) {
      cache_->emplace(host, Entry{address, t + options_.ttl, t});  // refreshed at first use
    }
  }
}

void HostResolver::onLateAnswer(std::function<void()> fn) {
  std::lock_guard<std::mutex> l(*mu_);
  *on_late_ = std::move(fn);
}

}  // namespace mlb::common

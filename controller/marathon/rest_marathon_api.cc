// The only file of the controller that includes cpprestsdk.
#include <utility>
// clang-format off
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
// clang-format on
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>

#include "controller/marathon/app_json.h"
#include "controller/marathon/asio_http_get.h"
#include "controller/marathon/marathon_api.h"

namespace mlb::controller {
namespace {

using namespace web::http;  // NOLINT(google-build-using-namespace)
using common::Error;
using common::Result;

constexpr auto kFailbackAfter = std::chrono::seconds(60);

std::string snippet(const std::string& body) {
  std::string s = body.substr(0, 120);
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') {
      c = ' ';
    }
  }
  return s;
}

class RestMarathonApi : public MarathonApi {
 public:
  RestMarathonApi(MarathonConfig config, RequestObserver on_request)
      : config_(std::move(config)), on_request_(std::move(on_request)) {
    if (!config_.basic_auth.empty()) {
      auth_ = basicAuthHeader(config_.basic_auth);
    } else if (!config_.token.empty()) {
      auth_ = "token=" + config_.token;
    }
  }

  Result<MarathonBody> fetchApps() override {
    size_t start;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (current_ != 0 && std::chrono::steady_clock::now() - switched_at_ > kFailbackAfter) {
        current_ = 0;  // return to the preferred Marathon
      }
      start = current_;
    }
    std::string errors;
    for (size_t n = 0; n < config_.urls.size(); ++n) {
      size_t idx = (start + n) % config_.urls.size();
      const std::string& base = config_.urls[idx];
      auto r = get(base, "/v2/apps?embed=apps.tasks");
      if (r) {
        std::lock_guard<std::mutex> lock(mu_);
        if (idx != current_) {
          current_ = idx;
          switched_at_ = std::chrono::steady_clock::now();
        }
        return MarathonBody{std::move(r->first), base, r->second};
      }
      if (!errors.empty()) {
        errors += "; ";
      }
      errors += r.error().message;
    }
    return Error{common::ErrorCode::Unavailable, errors};
  }

  Result<MarathonBody> fetchApp(const std::string& app_id) override {
    if (app_id.empty() || app_id[0] != '/' ||
        app_id.find_first_of(" ?#%\r\n") != std::string::npos) {
      return Error::invalidArgument("bad app id '" + app_id + "'");
    }
    const std::string base = currentUrl();
    auto r = get(base, "/v2/apps" + app_id, /*allow_404=*/true);
    if (!r) {
      return r.error();
    }
    return MarathonBody{std::move(r->first), base, r->second};
  }

  std::string currentUrl() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return config_.urls[current_];
  }

  std::string authorizationHeader() override {
    if (!config_.dcos) {
      return auth_;
    }
    std::lock_guard<std::mutex> lock(token_mu_);
    auto now = std::chrono::steady_clock::now();
    if (dcos_token_.empty() || now - token_at_ > kTokenRefresh) {
      auto t = login();
      if (t) {
        dcos_token_ = *t;
        token_at_ = now;
        login_error_.clear();
      } else {
        login_error_ = t.error().message;
      }
    }
    return dcos_token_.empty() ? "" : "token=" + dcos_token_;
  }

 private:
  // POST {"uid", "token": <RS256 JWT>} to the login endpoint; {"token": ...} back.
  Result<std::string> login() {
    const auto& c = *config_.dcos;
    long exp = static_cast<long>(std::time(nullptr)) + 300;
    auto jwt = makeServiceLoginJwt(c.uid, c.private_key, exp);
    if (!jwt) {
      return jwt.error();
    }
    try {
      client::http_client_config cfg;
      cfg.set_timeout(std::chrono::milliseconds(config_.timeout_ms));
      cfg.set_validate_certificates(!config_.insecure_tls);
      if (!config_.ca_cert.empty()) {
        std::string ca = config_.ca_cert;
        cfg.set_ssl_context_callback(
            [ca](boost::asio::ssl::context& ctx) { ctx.load_verify_file(ca); });
      }
      client::http_client client(utility::conversions::to_string_t(c.login_endpoint), cfg);
      http_request req(methods::POST);
      nlohmann::json body = {{"uid", c.uid}, {"token", *jwt}};
      req.set_body(body.dump(), "application/json");
      auto resp = client.request(req).get();
      std::string text = resp.extract_utf8string(true).get();
      observe(c.login_endpoint, resp.status_code() == 200 ? "success" : "login_refused");
      if (resp.status_code() != 200) {
        return Error{common::ErrorCode::Unavailable,
                     "DC/OS login as " + c.uid + " at " + c.login_endpoint + ": HTTP " +
                         std::to_string(resp.status_code()) + ": " + snippet(text)};
      }
      auto j = nlohmann::json::parse(text, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("token") || !j["token"].is_string()) {
        return Error::invalidData("DC/OS login answer has no token: " + snippet(text));
      }
      return j["token"].get<std::string>();
    } catch (const std::exception& e) {
      observe(c.login_endpoint, "connect");
      return Error{common::ErrorCode::Unavailable,
                   "DC/OS login at " + c.login_endpoint + ": " + e.what()};
    }
  }

  Result<std::pair<std::string, int>> get(const std::string& base, const std::string& path,
                                          bool allow_404 = false) {
    std::string auth = authorizationHeader();
    if (config_.dcos && auth.empty()) {
      std::lock_guard<std::mutex> lock(token_mu_);
      return Error{common::ErrorCode::Unavailable, login_error_};
    }
    // The bulk answer goes through the lean Asio reader (asio_http_get.h): on these
    // machines cpprestsdk's buffered streams took ~4x the transfer time for 22 MB.
    HttpGetOptions o;
    o.timeout = std::chrono::milliseconds(config_.timeout_ms);
    o.ca_cert = config_.ca_cert;
    o.insecure_tls = config_.insecure_tls;
    o.spare_capacity = kJsonPadding;
    std::vector<std::string> headers;
    if (!auth.empty()) {
      headers.push_back("Authorization: " + auth);
    }
    auto r = asioHttpGet(base, path, headers, o);
    if (!r) {
      const bool timeout = r.error().message.find("timed out") != std::string::npos ||
                           r.error().message.find("no complete answer") != std::string::npos;
      observe(base, timeout ? "timeout" : "connect");
      return r.error();
    }
    const int status = r->status;
    if (status == 401 && config_.dcos) {
      std::lock_guard<std::mutex> lock(token_mu_);
      dcos_token_.clear();  // expired or revoked: log in again on the next request
    }
    if (status == 404 && allow_404) {
      observe(base, "success");
      return std::make_pair(std::string(), 404);
    }
    if (status < 200 || status >= 300) {
      observe(base, status >= 500 ? "http_5xx" : "http_4xx");
      return Error{common::ErrorCode::Unavailable,
                   base + path + ": HTTP " + std::to_string(status) + ": " + snippet(r->body)};
    }
    observe(base, "success");
    return std::make_pair(std::move(r->body), status);
  }

  void observe(const std::string& url, const std::string& result) {
    if (on_request_) {
      on_request_(url, result);
    }
  }

  MarathonConfig config_;
  RequestObserver on_request_;
  std::string auth_;
  mutable std::mutex mu_;
  size_t current_ = 0;
  std::chrono::steady_clock::time_point switched_at_{};
  static constexpr auto kTokenRefresh = std::chrono::minutes(30);
  std::mutex token_mu_;
  std::string dcos_token_;
  std::string login_error_ = "DC/OS login not attempted";
  std::chrono::steady_clock::time_point token_at_{};
};

std::string base64Url(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  for (char& ch : out) {
    if (ch == '+') {
      ch = '-';
    } else if (ch == '/') {
      ch = '_';
    }
  }
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  return out;
}

std::string base64Url(const std::string& s) {
  return base64Url(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

}  // namespace

Result<std::string> makeServiceLoginJwt(const std::string& uid, const std::string& private_key_pem,
                                        long exp) {
  const std::string header = base64Url(R"({"alg":"RS256","typ":"JWT"})");
  const std::string payload = base64Url(nlohmann::json({{"uid", uid}, {"exp", exp}}).dump());
  const std::string signing_input = header + "." + payload;
  BIO* bio = BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (key == nullptr) {
    return Error::invalidArgument("DC/OS credentials: private_key is not a PEM private key");
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t sig_len = 0;
  std::string sig;
  bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestSign(ctx, nullptr, &sig_len,
                           reinterpret_cast<const unsigned char*>(signing_input.data()),
                           signing_input.size()) == 1;
  if (ok) {
    sig.resize(sig_len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                        reinterpret_cast<const unsigned char*>(signing_input.data()),
                        signing_input.size()) == 1;
    sig.resize(sig_len);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) {
    return Error::invalidArgument("DC/OS credentials: cannot sign with private_key");
  }
  return signing_input + "." + base64Url(sig);
}

std::string basicAuthHeader(const std::string& user_colon_password) {
  std::string out(4 * ((user_colon_password.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(user_colon_password.data()),
                          static_cast<int>(user_colon_password.size()));
  out.resize(static_cast<size_t>(n));
  return "Basic " + out;
}

MarathonApiPtr makeRestMarathonApi(MarathonConfig config, RequestObserver on_request) {
  return std::make_unique<RestMarathonApi>(std::move(config), std::move(on_request));
}

}  // namespace mlb::controller

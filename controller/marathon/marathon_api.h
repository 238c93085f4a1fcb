#pragma once
// Read-only access to Marathon. Implementations own transport, auth, timeouts and
// failover across several URLs.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace mlb::controller {

// A DC/OS service account (--dcos-auth-credentials, marathon-lb's JSON): the
// controller logs in with an RS256 JWT signed by the private key and sends the
// token it gets back as "Authorization: token=<t>", refreshing it as it ages.
struct DcosCredentials {
  std::string uid;
  std::string private_key;  // PEM
  std::string login_endpoint;
};

struct MarathonConfig {
  std::vector<std::string> urls;        // --marathon (several: failover in order, then return)
  std::string basic_auth;               // "user:password" (--auth-credentials / credential file)
  std::string token;                    // DC/OS auth token (sent as "token=<t>")
  std::optional<DcosCredentials> dcos;  // service-account login (token refreshed)
  std::string ca_cert;                  // --marathon-ca-cert; TLS is verified unless insecure
  bool insecure_tls = false;            // --marathon-insecure-skip-verify
  int timeout_ms = 10000;               // whole-request timeout for /v2/apps
};

// One Marathon answer: the body, and which URL served it.
struct MarathonBody {
  std::string body;  // capacity leaves kJsonPadding spare bytes for the parser
  std::string url;
  int status = 200;  // fetchApp: 200, or 404 when the app does not exist
};

class MarathonApi {
 public:
  virtual ~MarathonApi() = default;
  // GET /v2/apps?embed=apps.tasks. Error on transport failure, non-2xx status (the
  // message names the status and the start of the body), on every URL. Thread-safe.
  virtual common::Result<MarathonBody> fetchApps() = 0;
  // GET /v2/apps/<id> (tasks are always embedded): status 200 with {"app": ...}, or
  // status 404 when the app does not exist. Error on transport failure or any other
  // status. Thread-safe.
  virtual common::Result<MarathonBody> fetchApp(const std::string& app_id) = 0;
  // The base URL currently preferred (for the SSE stream and /v1/status).
  virtual std::string currentUrl() const = 0;
  // The Authorization header value ("" when none), for the SSE transport. With DC/OS
  // credentials this may log in (blocking, bounded by the timeout).
  virtual std::string authorizationHeader() = 0;
};
using MarathonApiPtr = std::unique_ptr<MarathonApi>;

// cpprestsdk implementation. `on_request(url, result)` is called for every request
// attempt with result "success" or a fault kind ("connect", "timeout", "http_5xx",
// "http_4xx"), for metrics.
using RequestObserver = std::function<void(const std::string& url, const std::string& result)>;
MarathonApiPtr makeRestMarathonApi(MarathonConfig config, RequestObserver on_request);

// A compact RS256 JWT {"uid": uid, "exp": exp} signed with `private_key_pem`, as
// DC/OS's login endpoint expects. Error when the key cannot be read or sign.
common::Result<std::string> makeServiceLoginJwt(const std::string& uid,
                                                const std::string& private_key_pem, long exp);

// "user:pass" -> "Basic dXNlcjpwYXNz".
std::string basicAuthHeader(const std::string& user_colon_password);

}  // namespace mlb::controller

// The HTTP API's locks: HTTPS (PGKEEPER_API_TLS, PGKEEPER_API_CERT_FILE,
// PGKEEPER_API_KEY_FILE) and a credential (PGKEEPER_API_USER,
// PGKEEPER_API_PASSWORD or _FILE) for the endpoints that change state.
// Role checks, /status and /metrics stay open, as load balancers and
// Prometheus need them; POST /promote, /follow and /reload are served only
// when a password is set, and only to a request that carries it (HTTP Basic
// authentication, as Patroni's REST API does).
//
// Parsing and routing are pure; api.cc runs the server and keeper.cc
// carries an action out through the same request files as the commands.
#ifndef PGKEEPER_API_AUTH_H_
#define PGKEEPER_API_AUTH_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

#include "api/api.h"
#include "config/config.h"
#include "base/status.h"

namespace pgkeeper {

// Fills *api from the PGKEEPER_API_* variables; one line naming the variable
// for every bad value. tls: the node's TLS settings (an API on the node's
// pair needs TLS on).
Status ParseApiSecurity(const Env& env, const FileReader& read_file, const TlsConfig& tls,
                        ApiSecurity* api);

// The pair the API serves over HTTPS: its own copies beside PGDATA when
// PGKEEPER_API_CERT_FILE is set, else PostgreSQL's.
std::string ApiCertPath(const Config& config);
std::string ApiKeyPath(const Config& config);

// Checks the API's own pair as CheckTlsFiles checks PostgreSQL's; run
// before anything on disk is touched.
Status CheckApiTlsFiles(const ApiSecurity& api);

// Copies the API's own pair (PGKEEPER_API_CERT_FILE) beside PGDATA for
// the postgres user, as PrepareTls does PostgreSQL's; nothing without one.
Status InstallApiTls(const Config& config, uid_t uid, gid_t gid);

// What a state-changing request asks of the supervisor: a request for the
// same files `pgkeeper promote`, `follow` and `reload` use.
struct ApiAction {
  std::string name;           // "promote", "follow", "reload"
  std::string request_file;   // in PGKEEPER_RUN_DIR
  std::string result_file;
  std::string request;        // the request's one line
  int timeout_seconds = 30;
};

// Credentials a request carried (HTTP Basic), if any.
struct BasicCredentials {
  std::string user, password;
};

// True for the paths of the state-changing endpoints (served with POST).
bool IsActionPath(const std::string& path);

// Decides a POST. Returns the reply when the request is refused (status
// 404: not a state-changing endpoint, or none is served without a
// password; 401: missing or wrong credentials; 400: a bad argument);
// otherwise fills *action and returns status 0: carry it out.
Reply RouteAction(const ApiSecurity& api, const std::string& path,
                  const std::map<std::string, std::string>& query,
                  const std::optional<BasicCredentials>& credentials, ApiAction* action);

// The reply for an action's outcome: pgkeeper's line "ok: ..." (200) or
// "error: ..." (409), or the failure to get one (503).
Reply ActionReply(const ApiAction& action, const Status& asked, const std::string& answer);

}  // namespace pgkeeper

#endif  // PGKEEPER_API_AUTH_H_

#include "api/api_auth.h"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "postgresql/follow.h"
#include "postgresql/promotion.h"
#include "postgresql/tls.h"
#include "postgresql/tls_rotate.h"

namespace pgkeeper {

Status ParseApiSecurity(const Env& env, const FileReader& read_file, const TlsConfig& tls,
                        ApiSecurity* api) {
  auto get = [&](const char* name, std::string* out) {
    auto it = env.find(name);
    if (it == env.end()) return false;
    *out = it->second;
    while (!out->empty() && std::isspace(static_cast<unsigned char>(out->back()))) out->pop_back();
    while (!out->empty() && std::isspace(static_cast<unsigned char>(out->front()))) out->erase(0, 1);
    return true;
  };
  std::string v;
  if (get("PGKEEPER_API_TLS", &v)) PGK_RETURN_IF_ERROR(ParseBool("PGKEEPER_API_TLS", v, &api->tls));
  get("PGKEEPER_API_CERT_FILE", &api->cert_file);
  get("PGKEEPER_API_KEY_FILE", &api->key_file);
  if (api->cert_file.empty() != api->key_file.empty()) {
    const bool cert = !api->cert_file.empty();
    return Status::Config(std::string(cert ? "PGKEEPER_API_CERT_FILE" : "PGKEEPER_API_KEY_FILE") +
                          " is set but " + (cert ? "PGKEEPER_API_KEY_FILE" : "PGKEEPER_API_CERT_FILE") +
                          " is not; expected both (the API's certificate and its key), or neither "
                          "(PGKEEPER_API_TLS=True serves the pair PostgreSQL serves)");
  }
  if (!api->cert_file.empty()) {
    PGK_RETURN_IF_ERROR(CheckPemFileNamed("PGKEEPER_API_CERT_FILE", api->cert_file, read_file, false));
    PGK_RETURN_IF_ERROR(CheckPemFileNamed("PGKEEPER_API_KEY_FILE", api->key_file, read_file, true));
    api->tls = true;
  } else if (api->tls && !tls.enabled) {
    return Status::Config("PGKEEPER_API_TLS=True would serve the pair PostgreSQL serves, but "
                          "PGKEEPER_TLS=False turns that off; expected PGKEEPER_API_CERT_FILE and "
                          "PGKEEPER_API_KEY_FILE, or TLS on");
  }
  if (get("PGKEEPER_API_USER", &v) && !v.empty()) {
    if (v.size() > 63 || v.find_first_of(": \t\r\n") != std::string::npos) {
      return Status::Config("PGKEEPER_API_USER='" + v +
                            "' is not usable; expected up to 63 characters without ':' or spaces");
    }
    api->user = v;
  }
  bool found = false;
  PGK_RETURN_IF_ERROR(LookupSecret(env, {"PGKEEPER_API_PASSWORD"}, read_file, &api->password, &found));
  if (found && api->password.size() < 8) {
    return Status::Config("PGKEEPER_API_PASSWORD is shorter than 8 characters; expected a longer "
                          "secret (it lets a caller promote this node)");
  }
  return Status::Ok();
}

std::string ApiCertPath(const Config& c) {
  return c.api.cert_file.empty() ? ServerCertPath(c.pgdata) : TlsDir(c.pgdata) + "/api.crt";
}
std::string ApiKeyPath(const Config& c) {
  return c.api.key_file.empty() ? ServerKeyPath(c.pgdata) : TlsDir(c.pgdata) + "/api.key";
}

Status CheckApiTlsFiles(const ApiSecurity& api) {
  if (api.cert_file.empty()) return Status::Ok();
  return CheckKeyPair("PGKEEPER_API_CERT_FILE", api.cert_file, "PGKEEPER_API_KEY_FILE", api.key_file);
}

Status InstallApiTls(const Config& c, uid_t uid, gid_t gid) {
  if (c.api.cert_file.empty()) return Status::Ok();
  PGK_RETURN_IF_ERROR(InstallCopy(c.api.key_file, ApiKeyPath(c), 0600, uid, gid));
  return InstallCopy(c.api.cert_file, ApiCertPath(c), 0644, uid, gid);
}

namespace {

Reply JsonReply(int status, const nlohmann::json& body) {
  return Reply{status, "application/json", body.dump() + "\n"};
}

bool SameSecret(const std::string& a, const std::string& b) {
  // Constant time for equal lengths; the length itself is not a secret worth hiding.
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

bool IsActionPath(const std::string& path) {
  return path == "/promote" || path == "/follow" || path == "/reload" || path == "/switchover";
}

Reply RouteAction(const ApiSecurity& api, const std::string& path,
                  const std::map<std::string, std::string>& query,
                  const std::optional<BasicCredentials>& credentials, ApiAction* action) {
  static const std::map<std::string, ApiAction> kActions = {
      {"/promote", {"promote", kPromoteRequestFile, kPromoteResultFile, "check", 120}},
      {"/follow", {"follow", kFollowRequestFile, kFollowResultFile, "", 30}},
      {"/reload", {"reload", kReloadRequestFile, kReloadResultFile, "reload", 30}},
      // Cluster mode: carried out through etcd, not by a request file.
      {"/switchover", {"switchover", "", "", "", 40}},
  };
  auto it = kActions.find(path);
  if (it == kActions.end()) {
    return Reply{404, "text/plain; charset=utf-8",
                 "not found: POST " + path + "; POST serves /promote, /follow, /reload and "
                 "/switchover\n"};
  }
  if (api.password.empty()) {
    return Reply{404, "text/plain; charset=utf-8",
                 "not served: POST " + path + " changes this node's state, and the API serves "
                 "such endpoints only with a credential; set PGKEEPER_API_PASSWORD_FILE\n"};
  }
  if (!credentials || !SameSecret(credentials->user, api.user) ||
      !SameSecret(credentials->password, api.password)) {
    return Reply{401, "text/plain; charset=utf-8",
                 std::string(credentials ? "wrong user or password" : "credentials required") +
                     " for POST " + path + " (HTTP Basic, PGKEEPER_API_USER and "
                     "PGKEEPER_API_PASSWORD)\n"};
  }
  *action = it->second;
  if (action->name == "promote") {
    auto f = query.find("force");
    if (f != query.end()) {
      bool force = false;
      if (!ParseBool("force", f->second, &force).ok()) {
        return Reply{400, "text/plain; charset=utf-8",
                     "force='" + f->second + "' is not a boolean; expected true or false\n"};
      }
      if (force) action->request = "force";
    }
  }
  if (action->name == "follow") {
    auto to = query.find("to");
    Upstream target;
    if (to == query.end() || !ParseHostPort(to->second, 5432, &target).ok()) {
      return Reply{400, "text/plain; charset=utf-8",
                   "POST /follow needs ?to=HOST[:PORT], the node to follow\n"};
    }
    action->request = to->second;
  }
  if (action->name == "switchover") {
    auto to = query.find("to");
    if (to != query.end()) {
      if (to->second.empty() || to->second.size() > 63 ||
          to->second.find_first_of(" \t\r\n\"'/") != std::string::npos) {
        return Reply{400, "text/plain; charset=utf-8",
                     "POST /switchover takes ?to=NODE, a member's name, or nothing\n"};
      }
      action->request = to->second;
    }
  }
  return Reply{0, "", ""};
}

Reply ActionReply(const ApiAction& action, const Status& asked, const std::string& answer) {
  if (asked.ok()) return JsonReply(200, {{"ok", true}, {"action", action.name}, {"message", answer}});
  // AskKeeper returns State with pgkeeper's own "error: ..." line; anything
  // else means no answer came.
  const bool answered = asked.code() == ExitCode::kState &&
                        asked.message().find("did not answer") == std::string::npos;
  return JsonReply(answered ? 409 : 503,
                   {{"ok", false}, {"action", action.name}, {"error", asked.message()}});
}

}  // namespace pgkeeper

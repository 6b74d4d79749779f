#include "config/config.h"

#include "cluster/cluster.h"

#include "api/api_auth.h"
#include "postgresql/tls.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <sstream>

namespace pgkeeper {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const std::string* Find(const Env& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? nullptr : &it->second;
}

// PostgreSQL identifiers we accept for roles, databases and extensions.
bool IsValidName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '$';
  });
}

Status CheckName(const std::string& var, const std::string& value) {
  if (IsValidName(value)) return Status::Ok();
  return Status::Config(var + "='" + value +
                        "' is not a valid name; expected 1-63 characters: letters, digits, "
                        "'_', '-' or '$', starting with a letter or '_'");
}

// Role names starting with pg_ are reserved by PostgreSQL.
Status CheckRoleName(const std::string& var, const std::string& value) {
  PGK_RETURN_IF_ERROR(CheckName(var, value));
  if (value.size() >= 3 && Lower(value.substr(0, 3)) == "pg_") {
    return Status::Config(var + "='" + value +
                          "' starts with pg_, which PostgreSQL reserves for its own roles; "
                          "expected another name");
  }
  return Status::Ok();
}

Status ParsePort(const std::string& var, const std::string& value, int* out) {
  int64_t port = 0;
  if (!ParseWholeNumber(Trim(value), 1, 65535, &port)) {
    return Status::Config(var + "='" + value + "' is not a port; expected a number from 1 to 65535");
  }
  *out = static_cast<int>(port);
  return Status::Ok();
}

// WAL_KEEP_SIZE and WAL_RETAIN_MAX go to postgres as written, which reads a
// bare number in the setting's own unit (MB): only the form is checked here.
bool IsValidSize(const std::string& s) {
  int64_t ignored = 0;
  return ParseSize(s, &ignored);
}

// pg_basebackup's --max-rate: kB/s, or with a k/M suffix; 32 kB/s to 1 GB/s.
bool IsValidRate(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 9) return false;
  std::string unit = s.substr(i);
  long long kb = std::stoll(s.substr(0, i));
  if (unit == "M") {
    kb *= 1024;
  } else if (!unit.empty() && unit != "k") {
    return false;
  }
  return kb >= 32 && kb <= 1048576;
}

Status CheckAbsolute(const std::string& var, const std::string& value) {
  if (!value.empty() && value[0] == '/' && value.find('\'') == std::string::npos &&
      value.find('\n') == std::string::npos) {
    return Status::Ok();
  }
  return Status::Config(var + "='" + value + "' is not usable; expected an absolute path");
}

}  // namespace

Status Lookup(const Env& env, const std::vector<std::string>& names, std::string* out,
              bool* found) {
  *found = false;
  std::string first;
  for (const auto& name : names) {
    const std::string* v = Find(env, name);
    if (!v) continue;
    if (*found && *v != *out) {
      return Status::Config(first + " and " + name +
                            " are both set, to different values; set only one of them");
    }
    if (!*found) first = name;
    *found = true;
    *out = *v;
  }
  return Status::Ok();
}

bool ParseWholeNumber(const std::string& s, int64_t min, int64_t max, int64_t* out) {
  // 18 digits cannot overflow int64_t.
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const int64_t n = std::stoll(s);
  if (n < min || n > max) return false;
  *out = n;
  return true;
}

bool ParseSize(const std::string& s, int64_t* bytes) {
  const size_t digits = std::min(s.find_first_not_of("0123456789"), s.size());
  const std::string unit = s.substr(digits);
  const int shift = unit.empty()   ? 0
                    : unit == "kB" ? 10
                    : unit == "MB" ? 20
                    : unit == "GB" ? 30
                    : unit == "TB" ? 40
                                   : -1;
  int64_t n = 0;
  if (shift < 0 || !ParseWholeNumber(s.substr(0, digits), 0, INT64_MAX >> shift, &n)) return false;
  *bytes = n << shift;
  return true;
}

// Looks up a secret that may be given directly or as NAME_FILE (a path).
// Exactly one form may be set. Trailing newlines of a file are dropped.
Status LookupSecret(const Env& env, const std::vector<std::string>& names,
                    const FileReader& read_file, std::string* out, bool* found) {
  *found = false;
  std::string source;
  for (const auto& name : names) {
    for (const std::string& var : {name, name + "_FILE"}) {
      const std::string* v = Find(env, var);
      if (!v) continue;
      if (*found) {
        return Status::Config(source + " and " + var +
                              " are both set; set only one way to give this secret");
      }
      *found = true;
      source = var;
      if (var == name) {
        *out = *v;
        continue;
      }
      if (v->empty()) return Status::Config(var + " is empty; expected the path of a file");
      std::string content;
      Status st = read_file(*v, &content);
      if (!st.ok()) {
        return Status::Config(var + ": cannot read the file it names (" + st.message() +
                              "); expected a readable file holding the secret");
      }
      while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
        content.pop_back();
      }
      *out = content;
    }
  }
  if (*found) {
    if (out->empty()) return Status::Config(source + " is empty; expected a non-empty secret");
    if (out->find_first_of("\n\r") != std::string::npos || out->find('\0') != std::string::npos) {
      return Status::Config(source + " contains a line break or NUL; expected a single line");
    }
  }
  return Status::Ok();
}

Status ParseBool(const std::string& name, const std::string& value, bool* out) {
  std::string v = Lower(Trim(value));
  if (v == "true" || v == "1" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "false" || v == "0" || v == "no" || v == "off" || v.empty()) {
    *out = false;
  } else {
    return Status::Config(name + "='" + value +
                          "' is not a boolean; expected True/true/1/yes/on or "
                          "False/false/0/no/off/empty");
  }
  return Status::Ok();
}

bool IsValidHbaAddress(const std::string& value) {
  if (value == "samehost" || value == "samenet") return true;
  size_t slash = value.find('/');
  if (slash == std::string::npos) return false;
  std::string addr = value.substr(0, slash);
  std::string prefix = value.substr(slash + 1);
  if (prefix.empty() || prefix.size() > 3 ||
      !std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  int bits = std::stoi(prefix);
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return bits <= 32;
  if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) return bits <= 128;
  return false;
}

namespace {

Status ParseSyncValues(const Env& env, Config* c) {
  std::string v;
  bool found = false;
  PGK_RETURN_IF_ERROR(Lookup(env, {"SYNCHRONOUS_REPLICANTS"}, &v, &found));
  if (found && !Trim(v).empty()) {
    v = Trim(v);
    int64_t n = 0;
    if (!ParseWholeNumber(v, 0, 10, &n)) {
      return Status::Config("SYNCHRONOUS_REPLICANTS='" + v +
                            "' is not usable; expected how many replicants must have a commit "
                            "before it returns, from 0 (asynchronous, the default) to 10");
    }
    c->sync_replicants = static_cast<int>(n);
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"SYNCHRONOUS_COMMIT"}, &v, &found));
  if (found && !Trim(v).empty()) {
    const std::string t = Lower(Trim(v));
    if (t != "on" && t != "remote_write" && t != "remote_apply") {
      return Status::Config("SYNCHRONOUS_COMMIT='" + v +
                            "' is not a level; expected on (the replicants flushed the commit "
                            "to disk, the default), remote_write (they received it) or "
                            "remote_apply (their queries see it)");
    }
    c->sync_commit = t;
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"SYNCHRONOUS_MODE"}, &v, &found));
  if (found && !Trim(v).empty()) {
    const std::string t = Lower(Trim(v));
    if (t != "strict" && t != "available") {
      return Status::Config("SYNCHRONOUS_MODE='" + v +
                            "' is not a mode; expected strict (commits wait while fewer than "
                            "SYNCHRONOUS_REPLICANTS replicants stream, the default) or available "
                            "(the requirement is lowered to the replicants that stream)");
    }
    c->sync_available = t == "available";
  }
  return Status::Ok();
}

Status ParseConfigValues(const Env& env, const FileReader& read_file, Config* c) {
  std::string v;
  bool found = false;

  PGK_RETURN_IF_ERROR(Lookup(env, {"POSTGRES_USER"}, &v, &found));
  if (found) {
    PGK_RETURN_IF_ERROR(CheckRoleName("POSTGRES_USER", v));
    c->superuser = v;
  }
  PGK_RETURN_IF_ERROR(
      LookupSecret(env, {"POSTGRES_PASS", "POSTGRES_PASSWORD"}, read_file, &v, &found));
  if (!found) {
    return Status::Config(
        "POSTGRES_PASS is not set; expected the superuser's password (or POSTGRES_PASSWORD, "
        "POSTGRES_PASS_FILE, POSTGRES_PASSWORD_FILE)");
  }
  c->superuser_password = v;

  PGK_RETURN_IF_ERROR(Lookup(env, {"POSTGRES_DBNAME", "POSTGRES_DB"}, &v, &found));
  if (found) {
    // Name the spelling the user set.
    const std::string var = env.count("POSTGRES_DBNAME") ? "POSTGRES_DBNAME" : "POSTGRES_DB";
    c->databases = SplitList(v);
    if (c->databases.empty()) {
      return Status::Config(var + " is empty; expected comma-separated database names");
    }
    for (const auto& db : c->databases) PGK_RETURN_IF_ERROR(CheckName(var, db));
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"POSTGRES_MULTIPLE_EXTENSIONS"}, &v, &found));
  if (found) {
    c->extensions = SplitList(v);
    for (const auto& ext : c->extensions) {
      PGK_RETURN_IF_ERROR(CheckName("POSTGRES_MULTIPLE_EXTENSIONS", ext));
    }
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"ALLOW_IP_RANGE"}, &v, &found));
  if (found) {
    c->allow_ip_ranges = SplitList(v);
    for (const auto& r : c->allow_ip_ranges) {
      if (!IsValidHbaAddress(r)) {
        return Status::Config("ALLOW_IP_RANGE: '" + r +
                              "' is not a valid address range; expected CIDRs such as "
                              "172.18.0.0/16 or fd00::/8, separated by commas");
      }
    }
  }

  PGK_RETURN_IF_ERROR(Lookup(env, {"REPLICATION_USER"}, &v, &found));
  if (found && !v.empty()) {
    PGK_RETURN_IF_ERROR(CheckRoleName("REPLICATION_USER", v));
    c->replication_user = v;
  }
  PGK_RETURN_IF_ERROR(LookupSecret(env, {"REPLICATION_PASS"}, read_file, &v, &found));
  if (found) c->replication_password = v;
  if (!c->replication_user.empty() && c->replication_password.empty()) {
    return Status::Config(
        "REPLICATION_USER is set but REPLICATION_PASS is not; expected a password for it");
  }
  if (c->replication_user.empty() && found) {
    return Status::Config("REPLICATION_PASS is set but REPLICATION_USER is not; set both or neither");
  }
  if (!c->replication_user.empty() && c->replication_user == c->superuser) {
    return Status::Config("REPLICATION_USER must differ from POSTGRES_USER; expected a dedicated role");
  }

  PGK_RETURN_IF_ERROR(Lookup(env, {"REPLICATE_FROM"}, &v, &found));
  if (found) {
    v = Trim(v);
    if (!v.empty() && !IsValidHost(v)) {
      return Status::Config("REPLICATE_FROM='" + v +
                            "' is not a host name or IP address; expected e.g. pg-master or "
                            "172.18.0.2");
    }
    c->replicate_from = v;
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"REPLICATE_PORT"}, &v, &found));
  if (found) PGK_RETURN_IF_ERROR(ParsePort("REPLICATE_PORT", v, &c->replicate_port));
  PGK_RETURN_IF_ERROR(Lookup(env, {"DESTROY_DATABASE_ON_RESTART"}, &v, &found));
  if (found) {
    PGK_RETURN_IF_ERROR(ParseBool("DESTROY_DATABASE_ON_RESTART", v, &c->destroy_on_restart));
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"PROMOTE_MASTER"}, &v, &found));
  if (found) PGK_RETURN_IF_ERROR(ParseBool("PROMOTE_MASTER", v, &c->promote_master));
  PGK_RETURN_IF_ERROR(Lookup(env, {"PROMOTE_FORCE"}, &v, &found));
  if (found) PGK_RETURN_IF_ERROR(ParseBool("PROMOTE_FORCE", v, &c->promote_force));
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGKEEPER_PEERS"}, &v, &found));
  if (found) {
    for (const auto& peer : SplitList(v)) {
      // The same parse as at promotion (peers.cc), so both give one verdict.
      HostPort at;
      if (!ParseHostPort(peer, 5432, &at).ok()) {
        return Status::Config("PGKEEPER_PEERS: '" + peer +
                              "' is not a host or host:port; expected e.g. "
                              "pg-replicant-2,pg-replicant-3:5433,[fd00::3]:5433");
      }
      c->peers.push_back(peer);
    }
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"ALLOW_REJOIN"}, &v, &found));
  if (found) PGK_RETURN_IF_ERROR(ParseBool("ALLOW_REJOIN", v, &c->allow_rejoin));

  PGK_RETURN_IF_ERROR(Lookup(env, {"PGDATA"}, &v, &found));
  if (found) {
    PGK_RETURN_IF_ERROR(CheckAbsolute("PGDATA", v));
    while (v.size() > 1 && v.back() == '/') v.pop_back();
    if (v == "/") return Status::Config("PGDATA='/' is not usable; expected a directory below /");
    c->pgdata = v;
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGPORT"}, &v, &found));
  if (found) PGK_RETURN_IF_ERROR(ParsePort("PGPORT", v, &c->port));
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGKEEPER_LISTEN_ADDRESSES"}, &v, &found));
  if (found) {
    for (const auto& a : SplitList(v)) {
      if (a != "*" && !IsValidHost(a)) {
        return Status::Config("PGKEEPER_LISTEN_ADDRESSES: '" + a +
                              "' is not an address; expected '*' or host names/IPs");
      }
    }
    if (SplitList(v).empty()) {
      return Status::Config("PGKEEPER_LISTEN_ADDRESSES is empty; expected '*' or addresses");
    }
    c->listen_addresses = v;
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGKEEPER_RUN_DIR"}, &v, &found));
  if (found) {
    PGK_RETURN_IF_ERROR(CheckAbsolute("PGKEEPER_RUN_DIR", v));
    c->run_dir = v;
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGKEEPER_PG_BIN"}, &v, &found));
  if (found) {
    PGK_RETURN_IF_ERROR(CheckAbsolute("PGKEEPER_PG_BIN", v));
    c->pg_bin = v;
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGKEEPER_INITDB_DIR"}, &v, &found));
  if (found) {
    PGK_RETURN_IF_ERROR(CheckAbsolute("PGKEEPER_INITDB_DIR", v));
    c->initdb_dir = v;
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"WAL_KEEP_SIZE"}, &v, &found));
  if (found) {
    if (!IsValidSize(Trim(v))) {
      return Status::Config("WAL_KEEP_SIZE='" + v +
                            "' is not a size; expected a number with an optional unit kB, MB, "
                            "GB or TB, e.g. 512MB");
    }
    c->wal_keep_size = Trim(v);
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"WAL_RETAIN_MAX"}, &v, &found));
  if (found) {
    std::string t = Lower(Trim(v));
    if (t == "unlimited" || t == "-1") {
      c->wal_retain_max = "-1";
    } else if (IsValidSize(Trim(v))) {
      c->wal_retain_max = Trim(v);
    } else {
      return Status::Config("WAL_RETAIN_MAX='" + v +
                            "' is not a size; expected a number with an optional unit kB, MB, "
                            "GB or TB (e.g. 4GB), 0 (slots keep nothing beyond WAL_KEEP_SIZE) "
                            "or unlimited");
    }
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGKEEPER_NODE_NAME"}, &v, &found));
  if (found && !Trim(v).empty()) {
    v = Trim(v);
    bool ok = v.size() <= 63 && std::all_of(v.begin(), v.end(), [](char ch) {
                return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ||
                       ch == '.';
              });
    if (!ok) {
      return Status::Config("PGKEEPER_NODE_NAME='" + v +
                            "' is not usable; expected up to 63 letters, digits, '-', '_' or "
                            "'.' (it names this node's replication slot)");
    }
    c->node_name = v;
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGKEEPER_API_PORT"}, &v, &found));
  if (found && Trim(v) == "0") {
    c->api_port = 0;
  } else if (found) {
    PGK_RETURN_IF_ERROR(ParsePort("PGKEEPER_API_PORT", v, &c->api_port));
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGKEEPER_API_LISTEN"}, &v, &found));
  if (found && !Trim(v).empty()) {
    v = Trim(v);
    if (v != "*" && !IsValidHost(v)) {
      return Status::Config("PGKEEPER_API_LISTEN='" + v +
                            "' is not an address; expected '*' or one host name or IP");
    }
    c->api_listen = v;
  } else {
    c->api_listen = SplitList(c->listen_addresses).front();
  }
  if (c->api_port != 0 && c->api_port == c->port) {
    return Status::Config("PGPORT and PGKEEPER_API_PORT are both " + std::to_string(c->api_port) +
                          " (8008 is the API's default); expected different ports, or "
                          "PGKEEPER_API_PORT=0 to turn the API off");
  }
  PGK_RETURN_IF_ERROR(Lookup(env, {"PGKEEPER_CLONE_MAX_RATE"}, &v, &found));
  if (found && !Trim(v).empty()) {
    if (!IsValidRate(Trim(v))) {
      return Status::Config("PGKEEPER_CLONE_MAX_RATE='" + v +
                            "' is not a transfer rate; expected kilobytes per second from 32 to "
                            "1048576, optionally as e.g. 500k or 50M");
    }
    c->clone_max_rate = Trim(v);
  }
  PGK_RETURN_IF_ERROR(ParseSyncValues(env, c));
  PGK_RETURN_IF_ERROR(ParseTlsConfig(env, read_file, &c->tls));
  PGK_RETURN_IF_ERROR(ParseApiSecurity(env, read_file, c->tls, &c->api));
  return ParseClusterConfig(env, *c, &c->cluster);
}

}  // namespace

Status ParseConfig(const Env& env, const FileReader& read_file, Config* c) {
  Status st = ParseConfigValues(env, read_file, c);
  if (st.ok()) return st;
  // Messages echo the bad value; a line break in it must not split the line.
  std::string msg;
  for (char ch : st.message()) {
    if (ch == '\n') {
      msg += "\\n";
    } else if (ch == '\r') {
      msg += "\\r";
    } else {
      msg.push_back(ch);
    }
  }
  return Status::Config(msg);
}

Env EnvFromEnviron(char** envp) {
  Env env;
  for (char** e = envp; e && *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

}  // namespace pgkeeper

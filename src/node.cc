#include "node.h"

#include <cstdlib>

#include "base/fs.h"
#include "base/log.h"
#include "postgresql/render.h"
#include "postgresql/slots.h"
#include "postgresql/tls.h"

namespace pgkeeper {

std::vector<std::string> BaseEnv(const Node& n) {
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
                                  "HOME=" + n.id.home};
  if (const char* tz = getenv("TZ")) env.push_back(std::string("TZ=") + tz);
  return env;
}

Status WriteConfigFiles(const Node& n, const std::string& datadir, bool standby) {
  const Config& c = n.config;
  PGK_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(datadir, "pg_hba.conf"), RenderHba(c, n.ranges), 0600));
  PGK_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(datadir, "pg_ident.conf"),
                                      RenderIdent(c, {n.id.os_user, "postgres", "root"}), 0600));
  PGK_RETURN_IF_ERROR(WriteFileAtomic(
      JoinPath(datadir, kServerConfFile),
      RenderServerConf(c, standby, JoinPath(c.run_dir, kPassFileName), ApplicationName(n.id.node_name),
                       SlotName(n.id.node_name), n.sync),
      0600));
  std::string conf;
  PGK_RETURN_IF_ERROR(ReadWholeFile(JoinPath(datadir, "postgresql.conf"), &conf));
  std::string with_include = WithIncludeLine(conf);
  if (with_include != conf) {
    PGK_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(datadir, "postgresql.conf"), with_include, 0600));
  }
  return Status::Ok();
}

Status WritePassFile(const Node& n) {
  const Config& c = n.config;
  return WriteFileAtomic(JoinPath(c.run_dir, kPassFileName),
                         RenderPgpass("*", c.replicate_port, c.replication_login(),
                                      c.replication_login_password()),
                         0600);
}

std::string MasterName(const Config& c) {
  return c.replicate_from + ":" + std::to_string(c.replicate_port);
}

// Work that logs in with SCRAM runs in short-lived children of this binary
// (`pgkeeper apply-master`, `pgkeeper ensure-slot`): making or answering a
// SCRAM exchange starts OpenSSL, and that alone leaves about 3 MB of
// libcrypto resident for the rest of a process's life; the supervisor runs
// for months. The child is started from the descriptor opened before
// privileges were dropped (docs/design.md).
SpawnSpec SelfChildSpec(const Node& n, const std::string& command,
                        const std::vector<std::string>& args) {
  SpawnSpec spec;
  spec.argv = {n.self.path, command};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.exec_fd = n.self.fd;
  Env env = n.env;
  env["PGKEEPER_NODE_NAME"] = n.id.node_name;
  // The child runs as postgres: with root's HOME, libpq's look for a client
  // certificate in ~/.postgresql fails with "Permission denied", which it
  // treats as fatal for verify-full and as a reason to drop TLS for prefer.
  if (!n.id.home.empty()) env["HOME"] = n.id.home;
  // The user's TLS files may be root's alone; the child, run as postgres,
  // reads the copies PrepareTls made (tls.h).
  const TlsConfig& tls = n.config.tls;
  if (!tls.cert_file.empty()) env["SSL_CERT_FILE"] = ServerCertPath(n.config.pgdata);
  if (!tls.key_file.empty()) env["SSL_KEY_FILE"] = ServerKeyPath(n.config.pgdata);
  if (!tls.ca_file.empty()) env["SSL_CA_FILE"] = ServerCaPath(n.config.pgdata);
  if (!tls.client_cert_file.empty()) {
    env["REPLICATION_SSL_CERT_FILE"] = ClientCertPath(n.config.pgdata);
    env["REPLICATION_SSL_KEY_FILE"] = ClientKeyPath(n.config.pgdata);
  }
  // Children serve no API: they need neither its pair nor its password.
  for (const char* var : {"PGKEEPER_API_CERT_FILE", "PGKEEPER_API_KEY_FILE",
                          "PGKEEPER_API_PASSWORD", "PGKEEPER_API_PASSWORD_FILE"}) {
    env.erase(var);
  }
  // Cluster mode decided this start's upstream (below); children do not
  // take part in the cluster.
  for (const char* var : {"ETCD_ENDPOINTS", "PGKEEPER_CLUSTER", "PGKEEPER_ADVERTISE_ADDRESS",
                          "PGKEEPER_LEASE_TTL", "PGKEEPER_FAILOVER_MAX_LAG"}) {
    env.erase(var);
  }
  if (n.config.is_replicant()) {  // the upstream followed now
    env["REPLICATE_FROM"] = n.config.replicate_from;
    env["REPLICATE_PORT"] = std::to_string(n.config.replicate_port);
  }
  for (const auto& [k, v] : env) spec.env.push_back(k + "=" + v);
  for (auto& e : UpstreamTlsEnv(n.config)) spec.env.push_back(std::move(e));
  return spec;
}

Status SelfChildStatus(const Node& n, const std::string& command, const Status& st) {
  if (st.code() == ExitCode::kSystem) {
    return Status::System("cannot start `pgkeeper " + command + "` as user " + n.id.os_user + ": " +
                          st.message());
  }
  return st;
}

Status RunSelfChild(const Node& n, const std::string& command,
                    const std::function<void(const std::string&)>& on_line,
                    const std::vector<std::string>& args) {
  return SelfChildStatus(n, command, RunTool(SelfChildSpec(n, command, args), on_line));
}

ToolRun EnsureSlotRun(const Node& n, std::string* sentence) {
  sentence->clear();
  return ToolRun{SelfChildSpec(n, "ensure-slot", {}), [sentence](const std::string& line) {
                   *sentence += (sentence->empty() ? "" : "; ") + line;
                 }};
}

Status EnsureSlotResult(const Node& n, const Status& st, std::string* sentence) {
  Status out = SelfChildStatus(n, "ensure-slot", st);
  if (sentence->empty()) *sentence = out.message();
  return out;
}

Status EnsureSlotInChild(const Node& n, std::string* sentence) {
  ToolRun run = EnsureSlotRun(n, sentence);
  return EnsureSlotResult(n, RunTool(run.spec, run.on_line), sentence);
}

}  // namespace pgkeeper

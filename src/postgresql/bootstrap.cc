#include "postgresql/bootstrap.h"

#include <signal.h>

#include "postgresql/datadir.h"
#include "base/fs.h"
#include "keeper.h"
#include "base/log.h"
#include "postgresql/pg.h"
#include "postgresql/postmaster.h"
#include "postgresql/render.h"
#include "postgresql/swap.h"

namespace pgkeeper {
namespace {

Status SetPassword(PgConn& conn, const std::string& role, const std::string& password,
                   const std::string& attributes, bool create) {
  std::string verifier;
  PGK_RETURN_IF_ERROR(conn.EncryptPassword(role, password, &verifier));
  std::string sql = std::string(create ? "CREATE" : "ALTER") + " ROLE " + QuoteIdent(role) +
                    " WITH " + attributes + " PASSWORD " + QuoteLiteral(verifier);
  return conn.Exec(sql);
}

Status ApplyRoles(const Config& c, PgConn& conn) {
  PGK_RETURN_IF_ERROR(SetPassword(conn, c.superuser, c.superuser_password, "SUPERUSER LOGIN", false));
  if (!c.replication_user.empty()) {
    std::string exists;
    PGK_RETURN_IF_ERROR(conn.QueryValue(
        "SELECT count(*) FROM pg_roles WHERE rolname = " + QuoteLiteral(c.replication_user), &exists));
    PGK_RETURN_IF_ERROR(SetPassword(conn, c.replication_user, c.replication_password,
                                    "REPLICATION LOGIN NOSUPERUSER", exists == "0"));
  }
  LogInfo("applied passwords for " + c.superuser +
          (c.replication_user.empty() ? "" : " and replication role " + c.replication_user));
  return Status::Ok();
}

Status ApplyDatabases(const Config& c) {
  PgConn admin;
  PGK_RETURN_IF_ERROR(admin.Connect(LocalParams(c.run_dir, c.port, c.superuser, "postgres")));
  for (const auto& db : c.databases) {
    std::string exists;
    PGK_RETURN_IF_ERROR(admin.QueryValue(
        "SELECT count(*) FROM pg_database WHERE datname = " + QuoteLiteral(db), &exists));
    if (exists == "0") {
      PGK_RETURN_IF_ERROR(admin.Exec("CREATE DATABASE " + QuoteIdent(db) + " OWNER " +
                                     QuoteIdent(c.superuser)));
      LogInfo("created database " + db);
    }
    if (c.extensions.empty()) continue;
    PgConn conn;
    PGK_RETURN_IF_ERROR(conn.Connect(LocalParams(c.run_dir, c.port, c.superuser, db)));
    for (const auto& ext : c.extensions) {
      Status st = conn.Exec("CREATE EXTENSION IF NOT EXISTS " + QuoteIdent(ext) + " CASCADE");
      if (!st.ok()) {
        return Status::Tool("POSTGRES_MULTIPLE_EXTENSIONS: cannot create extension " + ext +
                            " in database " + db + ": " + st.message());
      }
    }
    LogInfo("database " + db + " has extensions: " + [&] {
      std::string s;
      for (const auto& e : c.extensions) s += (s.empty() ? "" : ",") + e;
      return s;
    }());
  }
  return Status::Ok();
}

Status ApplyMasterObjects(const Config& c) {
  PgConn conn;
  PGK_RETURN_IF_ERROR(conn.Connect(LocalParams(c.run_dir, c.port, c.superuser, "postgres")));
  PGK_RETURN_IF_ERROR(ApplyRoles(c, conn));
  return ApplyDatabases(c);
}

}  // namespace

Status ApplyMasterObjectsInChild(const Node& n) { return RunSelfChild(n, "apply-master", LogRaw); }

namespace {

Status RunInitScripts(const Node& n) {
  const Config& c = n.config;
  std::vector<std::string> names;
  if (!Exists(c.initdb_dir)) return Status::Ok();
  PGK_RETURN_IF_ERROR(ListDir(c.initdb_dir, &names));
  std::vector<std::string> env = BaseEnv(n);
  env.push_back("PGHOST=" + c.run_dir);
  env.push_back("PGPORT=" + std::to_string(c.port));
  env.push_back("PGUSER=" + c.superuser);
  env.push_back("PGDATABASE=" + c.databases.front());
  env.push_back("POSTGRES_USER=" + c.superuser);
  env.push_back("POSTGRES_DBNAME=" + c.databases.front());
  const std::string psql = c.pg_bin + "/psql";
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const auto& name : names) {
    std::string path = JoinPath(c.initdb_dir, name);
    SpawnSpec spec;
    spec.env = env;
    spec.cwd = c.initdb_dir;
    if (ends_with(name, ".sh")) {
      spec.argv = {"/bin/bash", path};
    } else if (ends_with(name, ".sql")) {
      spec.argv = {psql, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-f", path};
    } else if (ends_with(name, ".sql.gz")) {
      spec.argv = {"/bin/bash", "-o", "pipefail", "-c",
                   "gunzip -c \"$1\" | \"$2\" -v ON_ERROR_STOP=1 --no-psqlrc -q", "init-script", path, psql};
    } else {
      LogInfo("init script " + name + ": ignored (expected *.sh, *.sql or *.sql.gz)");
      continue;
    }
    LogInfo("running init script " + name);
    Status st = RunTool(spec, [&](const std::string& line) { LogInfo(name + ": " + line); });
    if (!st.ok()) return Status::Tool("init script " + name + " failed: " + st.message());
  }
  return Status::Ok();
}

}  // namespace

Status InitMaster(const Node& n) {
  const Config& c = n.config;
  const std::string staging = StagingDir(c.pgdata);
  PGK_RETURN_IF_ERROR(RemoveTree(staging));
  n.monitor->SetPhase("initialising", "running initdb");
  SpawnSpec initdb;
  initdb.argv = {c.pg_bin + "/initdb", "-D", staging, "-U", c.superuser, "--encoding=UTF8",
                 "--locale=C.UTF-8", "--data-checksums", "--auth-local=peer",
                 "--auth-host=scram-sha-256"};
  initdb.env = BaseEnv(n);
  PGK_RETURN_IF_ERROR(RunTool(initdb, [](const std::string& line) { LogInfo("initdb: " + line); }));
  PGK_RETURN_IF_ERROR(WriteConfigFiles(n, staging, false));

  // First-start work happens on a server that listens on no TCP address, so
  // nobody sees a half-made master.
  Postmaster pm;
  PGK_RETURN_IF_ERROR(pm.Start(c, staging, {"-c", "listen_addresses="}, BaseEnv(n)));
  Status st = pm.WaitReady(kStartTimeoutMs);
  if (st.ok()) st = ApplyMasterObjectsInChild(n);
  if (st.ok()) st = RunInitScripts(n);
  Status stop = pm.Stop(SIGINT);
  PGK_RETURN_IF_ERROR(st);
  PGK_RETURN_IF_ERROR(stop);
  PGK_RETURN_IF_ERROR(WriteState(staging, "init"));
  PGK_RETURN_IF_ERROR(CommitStaging(c.pgdata));
  LogInfo("new master initialised in " + c.pgdata);
  return Status::Ok();
}

int RunApplyMaster(const Env& env) {
  Config c;
  Status st = ParseConfig(env, ReadWholeFile, &c);
  if (st.ok()) st = ApplyMasterObjects(c);
  if (!st.ok()) LogError(st.message());
  return st.exit_code();
}

}  // namespace pgkeeper

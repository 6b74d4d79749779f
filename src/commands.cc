#include "commands.h"

#include <signal.h>

#include <cerrno>
#include <iostream>

#include "fs.h"
#include "keeper.h"
#include "monitor.h"
#include "pg.h"
#include "process.h"
#include "slots.h"
#include "snapshot.h"

namespace pgkeeper {
namespace {

// What the side commands need to find the node: no secrets, no validation
// beyond what locating the socket takes.
Config LocalConfig(const Env& env) {
  Config c;
  auto get = [&](const char* name, std::string* out) {
    auto it = env.find(name);
    if (it != env.end() && !it->second.empty()) *out = it->second;
  };
  get("PGKEEPER_RUN_DIR", &c.run_dir);
  get("PGDATA", &c.pgdata);
  get("POSTGRES_USER", &c.superuser);
  std::string port;
  get("PGPORT", &port);
  if (!port.empty()) c.port = std::atoi(port.c_str());
  return c;
}

bool ReadKeeperState(const Config& c, KeeperState* k, std::string* error) {
  std::string path = JoinPath(c.run_dir, kStatusFile);
  std::string text;
  if (!ReadWholeFile(path, &text).ok()) {
    *error = "pgkeeper has not written " + path + " (is it running with this PGKEEPER_RUN_DIR?)";
    return false;
  }
  if (!KeeperStateFromJson(text, k)) {
    *error = path + " is not pgkeeper's status JSON";
    return false;
  }
  return true;
}

bool ProcessAlive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

int UsageError(const std::string& msg) {
  std::cerr << "pgkeeper: " << msg << "\n";
  return static_cast<int>(ExitCode::kUsage);
}

}  // namespace

int RunHealth(const Env& env, const Args& args) {
  HealthMode mode = HealthMode::kDefault;
  for (const auto& a : args) {
    if (a == "--ready") {
      mode = HealthMode::kReady;
    } else if (a == "--live") {
      mode = HealthMode::kLive;
    } else {
      return UsageError("health: unknown option " + a + "; expected --ready or --live");
    }
  }
  Config c = LocalConfig(env);
  KeeperState k;
  std::string error;
  if (!ReadKeeperState(c, &k, &error)) {
    std::cout << "unhealthy: " << error << "\n";
    return 1;
  }
  ConnParams params = LocalParams(c.run_dir, c.port, c.superuser, "postgres");
  params["connect_timeout"] = "3";
  bool accepting = Ping(params) == PingResult::kOk;
  HealthVerdict v = JudgeHealth(k, ProcessAlive(k.pid), accepting, mode);
  std::cout << v.text << "\n";
  return v.ok ? 0 : 1;
}

int RunStatus(const Env& env, const Args& args) {
  bool json = false;
  for (const auto& a : args) {
    if (a == "--json") {
      json = true;
    } else {
      return UsageError("status: unknown option " + a + "; expected --json");
    }
  }
  Config c = LocalConfig(env);
  Snapshot s;
  std::string error;
  if (!ReadKeeperState(c, &s.keeper, &error)) {
    std::cerr << "pgkeeper: status: " << error << "\n";
    return static_cast<int>(ExitCode::kState);
  }
  PgConn conn;
  if (conn.Connect(MonitorParams(c)).ok()) {
    Status st = CollectPostgresFacts(conn, &s);
    if (!st.ok()) s.postgres_up = false;
  }
  s.taken_at_ms = WallClockMs();
  std::cout << (json ? ToJson(s) + "\n" : RenderStatusTable(s));
  return 0;
}

int RunPromote(const Env& env, const Args& args) {
  if (!args.empty()) return UsageError("promote takes no options");
  Config c = LocalConfig(env);
  // pgkeeper.state belongs to the postgres user like the rest of $PGDATA.
  Status st = BecomePostgresIfRoot();
  int64_t ms = 0;
  if (st.ok()) st = PromoteLocal(c, &ms);
  if (!st.ok()) {
    std::cerr << "pgkeeper: promote: " << st.message() << "\n";
    return st.exit_code();
  }
  std::cout << "promoted in " << ms << " ms; this node now accepts writes\n";
  return 0;
}

int RunDropSlot(const Env& env, const Args& args) {
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-') {
    return UsageError("drop-slot takes one argument, the slot's name (see `pgkeeper status`)");
  }
  Config c = LocalConfig(env);
  PgConn conn;
  Status st = conn.Connect(MonitorParams(c));
  if (st.ok()) st = DropLocalSlot(conn, args[0]);
  if (!st.ok()) {
    std::cerr << "pgkeeper: drop-slot: " << st.message() << "\n";
    return st.exit_code();
  }
  std::cout << "dropped replication slot " << args[0]
            << "; the WAL it held back is released at the next checkpoint\n";
  return 0;
}

}  // namespace pgkeeper

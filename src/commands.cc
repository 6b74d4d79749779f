#include "commands.h"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <iostream>

#include "postgresql/follow.h"
#include "postgresql/promotion.h"
#include "base/fs.h"
#include "keeper.h"
#include "monitor.h"
#include "postgresql/pg.h"
#include "base/process.h"
#include "postgresql/slots.h"
#include "snapshot.h"
#include "postgresql/tls_rotate.h"

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

Status LeaveRequest(const Config& c, int pid, const char* request_file,
                    const std::string& request) {
  PGK_RETURN_IF_ERROR(WriteFileUnsynced(JoinPath(c.run_dir, request_file), request + "\n", 0644));
  if (::kill(pid, SIGUSR1) != 0) return Status::FromErrno("signal pgkeeper", errno);
  return Status::Ok();
}

Status AwaitAnswer(const Config& c, const char* request_file, const char* result_file,
                   std::chrono::seconds timeout, std::string* answer,
                   const std::function<bool()>& cancelled) {
  const std::string request_path = JoinPath(c.run_dir, request_file);
  const std::string result_path = JoinPath(c.run_dir, result_file);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string text;
  while (!ReadWholeFile(result_path, &text).ok()) {
    if (cancelled && cancelled()) {
      (void)RemoveTree(request_path);
      return Status::Interrupted("pgkeeper is stopping; no answer was waited for");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      (void)RemoveTree(request_path);
      return Status::State("pgkeeper did not answer within " + std::to_string(timeout.count()) +
                           " s; its log says why");
    }
    // A promotion is answered within 0.1 s: a coarser look would be a large
    // part of what the command costs. A stat every 2 ms is nothing.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  (void)RemoveTree(result_path);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (text.rfind("ok: ", 0) != 0) {
    return Status::State(text.rfind("error: ", 0) == 0 ? text.substr(7) : text);
  }
  *answer = text.substr(4);
  return Status::Ok();
}

// The files belong to the postgres user like pgkeeper itself. An old answer
// is removed before the request is left, so that only this one is read.
Status AskKeeper(const Config& c, int pid, const char* request_file, const char* result_file,
                 const std::string& request, std::chrono::seconds timeout, std::string* answer,
                 const std::function<bool()>& cancelled) {
  PGK_RETURN_IF_ERROR(BecomePostgresIfRoot());
  PGK_RETURN_IF_ERROR(RemoveTree(JoinPath(c.run_dir, result_file)));
  PGK_RETURN_IF_ERROR(LeaveRequest(c, pid, request_file, request));
  return AwaitAnswer(c, request_file, result_file, timeout, answer, cancelled);
}

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
  MeasureDataDisk(c.pgdata, &s);
  std::cout << (json ? ToJson(s) + "\n" : RenderStatusTable(s));
  return 0;
}

int RunPromote(const Env& env, const Args& args) {
  bool force = false;
  for (const auto& a : args) {
    if (a != "--force") return UsageError("promote: unknown option " + a + "; expected --force");
    force = true;
  }
  Config c = LocalConfig(env);
  KeeperState k;
  std::string error;
  auto fail = [](const std::string& msg) {
    std::cerr << "pgkeeper: promote: " << msg << "\n";
    return static_cast<int>(ExitCode::kState);
  };
  if (!ReadKeeperState(c, &k, &error)) return fail(error);
  if (!ProcessAlive(k.pid)) return fail("pgkeeper (pid " + std::to_string(k.pid) + ") is not running");
  // pgkeeper itself checks, promotes and reports, so that the report also
  // reaches its log, the status and $PGDATA. The checks reach the old
  // master and each peer with a 3 s connect timeout; pg_promote waits up to
  // 60 s.
  std::string report;
  Status st = AskKeeper(c, k.pid, kPromoteRequestFile, kPromoteResultFile,
                        force ? "force" : "check", std::chrono::seconds(120), &report);
  if (!st.ok()) return fail(st.message());
  std::cout << report << "\n";
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

int RunReload(const Env& env, const Args& args) {
  if (!args.empty()) return UsageError("reload takes no arguments");
  Config c = LocalConfig(env);
  KeeperState k;
  std::string error;
  auto fail = [](const std::string& msg) {
    std::cerr << "pgkeeper: reload: " << msg << "\n";
    return static_cast<int>(ExitCode::kState);
  };
  if (!ReadKeeperState(c, &k, &error)) return fail(error);
  if (!ProcessAlive(k.pid)) return fail("pgkeeper (pid " + std::to_string(k.pid) + ") is not running");
  // The check spawns openssl a few times: well within a second.
  std::string answer;
  Status st = AskKeeper(c, k.pid, kReloadRequestFile, kReloadResultFile, "reload",
                        std::chrono::seconds(30), &answer);
  if (!st.ok()) return fail(st.message());
  std::cout << answer << "\n";
  return 0;
}

int RunFollow(const Env& env, const Args& args) {
  if (args.size() != 1) {
    return UsageError("follow takes one argument: HOST[:PORT] of the node to follow");
  }
  Upstream target;
  Status st = ParseHostPort(args[0], 5432, &target);
  if (!st.ok()) return UsageError("follow: " + st.message());
  Config c = LocalConfig(env);
  KeeperState k;
  std::string error;
  auto fail = [](const std::string& msg) {
    std::cerr << "pgkeeper: follow: " << msg << "\n";
    return static_cast<int>(ExitCode::kState);
  };
  if (!ReadKeeperState(c, &k, &error)) return fail(error);
  if (!ProcessAlive(k.pid)) return fail("pgkeeper (pid " + std::to_string(k.pid) + ") is not running");
  if (!k.configured_replicant) {
    return fail("this node is a master (REPLICATE_FROM is not set), so it follows nobody");
  }
  // The supervisor answers within its next wake-up (5 s at most) plus the
  // slot check on the new upstream (a 5 s connect timeout).
  std::string answer;
  st = AskKeeper(c, k.pid, kFollowRequestFile, kFollowResultFile, args[0], std::chrono::seconds(30),
                 &answer);
  if (!st.ok()) return fail(st.message());
  std::cout << answer << "\n";
  // Say whether it streams yet; a new upstream usually answers at once.
  const std::string wanted = target.host + ":" + std::to_string(target.port);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadKeeperState(c, &k, &error) && k.master == wanted && k.phase == "streaming") {
      std::cout << "streaming from " << target.Name() << "\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << "not streaming from " << target.Name() << " yet (" << k.phase << ": " << k.message
            << "); see `pgkeeper status`\n";
  return 0;
}

}  // namespace pgkeeper

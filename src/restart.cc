#include "restart.h"

#include <signal.h>

#include "base/fs.h"
#include "base/log.h"
#include "monitor.h"
#include "plan.h"
#include "base/process.h"

namespace pgkeeper {

// Starts postgres again in place after it exited on its own, as
// DecideAfterCrash says; a start that fails counts as one more exit.
// Returns false (with *code) when pgkeeper should exit instead.
namespace {

DiskFacts MeasureDisk(const std::string& pgdata, bool said_full) {
  DiskFacts disk;
  disk.path = pgdata;
  disk.said_full = said_full;
  Status st = FreeBytes(pgdata, &disk.free_bytes, &disk.total_bytes);
  if (!st.ok()) {
    LogWarn("cannot measure the disk after postgres exited: " + st.message());
    disk.free_bytes = disk.total_bytes = -1;
  }
  return disk;
}

// Checks once a second until the disk holding pgdata has need bytes free.
Status WaitForRoom(const std::string& pgdata, int64_t need) {
  for (;;) {
    int64_t free_bytes = 0;
    Status st = FreeBytes(pgdata, &free_bytes);
    if (st.ok() && free_bytes >= need) {
      LogInfo("the disk holding " + pgdata + " has " + FormatMB(free_bytes) +
              " free again; starting postgres");
      return Status::Ok();
    }
    st = SleepUnlessStopped(1000);
    if (!st.ok()) return st;
  }
}

}  // namespace

bool RestartAfterCrash(const Node& n, Postmaster& pm, CrashLog& crashes, std::string how, int* code) {
  const Config& c = n.config;
  auto down_since = std::chrono::steady_clock::now();
  for (;;) {
    CrashPlan plan =
        DecideAfterCrash(crashes.Count() + 1, how, MeasureDisk(c.pgdata, pm.said_disk_full()));
    if (plan.counted) crashes.Note();
    LogError(plan.reason);
    if (!plan.restart) {
      n.monitor->SetPhase("stopped", plan.reason);
      return false;
    }
    Status st;
    if (plan.wait_free_bytes > 0) {
      n.monitor->SetPhase("disk-full", plan.reason);
      st = WaitForRoom(c.pgdata, plan.wait_free_bytes);
      if (st.ok()) n.monitor->SetPhase("restarting", "the disk has room again; starting postgres");
    } else {
      n.monitor->SetPhase("restarting", plan.reason);
      st = SleepUnlessStopped(plan.delay_ms);
    }
    if (st.ok()) st = pm.Start(c, c.pgdata, {}, BaseEnv(n));
    if (st.ok()) st = pm.WaitReady(kStartTimeoutMs);
    if (st.ok()) break;
    if (pm.pid() > 0 && !pm.Exited(nullptr)) {
      Status stop = pm.Stop(SIGQUIT);
      if (!stop.ok()) LogWarn(stop.message());
    }
    if (st.code() == ExitCode::kInterrupted) {
      LogInfo(st.message());
      n.monitor->SetPhase("stopped", st.message());
      *code = 128 + (StopSignal() ? StopSignal() : SIGTERM);
      return false;
    }
    how = "could not start again: " + st.message();
  }
  const bool standby = Exists(JoinPath(c.pgdata, "standby.signal"));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - down_since).count();
  LogInfo("postgres is back after " + std::to_string(ms) + " ms without it; " +
          (standby ? "the replicant resumes following " + MasterName(c)
                   : std::string("the master accepts writes again (crash recovery replayed its WAL; "
                                 "no acknowledged commit is lost)")));
  n.monitor->SetPhase(standby ? "standby" : "running",
                      standby ? "following " + MasterName(c) + ", not streaming yet"
                              : "master accepting reads and writes");
  n.monitor->ExpectPostgres(true);
  return true;
}

}  // namespace pgkeeper

#include "restart.h"

#include <signal.h>

#include "fs.h"
#include "log.h"
#include "monitor.h"
#include "plan.h"
#include "process.h"

namespace pgkeeper {

// Starts postgres again in place after it exited on its own, as
// DecideAfterCrash says; a start that fails counts as one more exit.
// Returns false (with *code) when pgkeeper should exit instead.
bool RestartAfterCrash(const Node& n, Postmaster& pm, CrashLog& crashes, std::string how, int* code) {
  const Config& c = n.config;
  auto down_since = std::chrono::steady_clock::now();
  for (;;) {
    CrashPlan plan = DecideAfterCrash(crashes.Note(), how);
    LogError(plan.reason);
    if (!plan.restart) {
      n.monitor->SetPhase("stopped", plan.reason);
      return false;
    }
    n.monitor->SetPhase("restarting", plan.reason);
    Status st = SleepUnlessStopped(plan.delay_ms);
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

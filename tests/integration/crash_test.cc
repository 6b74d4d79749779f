// postgres killed under pgkeeper: it is started again in place, a master's
// replicant reconnects by itself, nothing acknowledged is lost, and past the
// restart limit pgkeeper exits for the container's restart policy.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

// The postmaster's pid, from the first line of postmaster.pid.
pid_t PostmasterPid(Node& node) {
  std::string pidfile = ReadFile(node.pgdata() + "/postmaster.pid");
  return pidfile.empty() ? -1 : static_cast<pid_t>(std::stol(pidfile));
}

// SIGKILLs node's postmaster, as the kernel's OOM killer would.
void KillPostmaster(Node& node) {
  pid_t pid = PostmasterPid(node);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Crash, AMastersPostgresKilledComesBackInPlaceAndItsReplicantReconnects) {
  Pair p;
  p.Start();
  ASSERT_EQ(p.master.Query("CREATE TABLE acked AS SELECT 1 AS x"), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM acked", "1");
  KillPostmaster(p.master);
  p.master.WaitLog("postgres exited unexpectedly (signal Killed); starting it again in place in 1 s "
                   "(restart 1 of at most 5 in 10 minutes)");
  p.master.WaitLog("the master accepts writes again");
  p.master.WaitHealthy();
  EXPECT_TRUE(p.master.Running()) << "pgkeeper itself must not exit";
  EXPECT_EQ(p.master.Query("SELECT count(*) FROM acked"), "1") << "an acknowledged row was lost";
  ASSERT_EQ(p.master.Query("INSERT INTO acked VALUES (2)"), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM acked", "2", seconds(60));
}

TEST(Crash, AReplicantsPostgresKilledComesBackAndStreamsAgain) {
  Pair p;
  p.Start();
  const size_t before = p.replicant.Log().size();
  KillPostmaster(p.replicant);
  p.replicant.WaitLog("the replicant resumes following 127.0.0.1:");
  ASSERT_EQ(p.master.Query("CREATE TABLE after_crash AS SELECT 1 AS x"), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM after_crash", "1", seconds(60));
  EXPECT_EQ(p.replicant.Log().substr(before).find("pg_basebackup"), std::string::npos)
      << "no copy is needed to come back";
}

// A container killed (docker kill, a power cut) leaves postmaster.pid
// behind; in the next container its PID often belongs to another process,
// one of pgkeeper's own threads say, and postgres refuses to start beside
// what it takes for a live postmaster. Found by the cross-host e2e test.
TEST(Crash, AStalePidFileWhosePidWasReusedDoesNotBlockTheStart) {
  Scratch scratch;
  Node master(scratch, "master");
  master.Start();
  master.WaitHealthy();
  ASSERT_EQ(master.Query("CREATE TABLE before_kill AS SELECT 1 AS x"), "OK");
  ASSERT_EQ(master.Stop(), 0);
  pid_t other = ::fork();  // a live process that is not postgres
  if (other == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(other, 0);
  WriteFile(master.pgdata() + "/postmaster.pid",
            std::to_string(other) + "\n" + master.pgdata() + "\n");
  master.Start();
  master.WaitHealthy();
  EXPECT_TRUE(master.LogContains("removed a stale " + master.pgdata() + "/postmaster.pid"))
      << master.Log();
  EXPECT_EQ(master.Query("SELECT count(*) FROM before_kill"), "1");
  ::kill(other, SIGKILL);
  ::waitpid(other, nullptr, 0);
  master.Stop();
}

TEST(Crash, PastTheRestartLimitPgkeeperExitsForTheRestartPolicy) {
  Scratch scratch;
  Node master(scratch, "master");
  master.Start();
  master.WaitHealthy();
  for (int restart = 1; restart <= 5; ++restart) {
    KillPostmaster(master);
    master.WaitLog("(restart " + std::to_string(restart) + " of at most 5 in 10 minutes)");
    ASSERT_TRUE(WaitFor([&] { return Count(master.Log(), "postgres is back after") == restart; },
                        seconds(60)))
        << "postgres did not come back after kill " << restart << "; log:\n" << master.Log();
  }
  KillPostmaster(master);
  EXPECT_EQ(master.Wait(seconds(60)), 128 + SIGKILL) << "pgkeeper exits with postgres' code";
  EXPECT_TRUE(master.LogContains("(signal Killed) for the 6th time in 10 minutes; giving up"));
}

}  // namespace
}  // namespace pgkeeper::testing

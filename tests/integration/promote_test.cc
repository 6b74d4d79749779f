// Promotion that knows what it costs, against real PostgreSQL: refused
// while the old master takes writes (until --force), refused while another
// replicant has more WAL (naming it), and a report of what may be lost in
// the command's output, the log, the status and $PGDATA.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

using json = nlohmann::json;

std::string Addr(const Node& n) { return "127.0.0.1:" + std::to_string(n.port()); }

bool InRecovery(Node& n) { return n.Query("SELECT pg_is_in_recovery()") == "t"; }

// The node's `promote-facts --when-asked` children, kept waiting for a
// promotion: how many, read from /proc.
int WaitingFactsChildren(const Node& n) {
  int found = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat"), cmd(entry.path() / "cmdline");
    std::string text, args;
    if (!std::getline(stat, text) || !std::getline(cmd, args, '\0')) continue;
    // Fields after the command's closing parenthesis: state, then ppid.
    std::istringstream rest(text.substr(text.rfind(')') + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    std::string all((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (ppid == n.pid() && all.find("promote-facts") != std::string::npos &&
        all.find("--when-asked") != std::string::npos) {
      ++found;
    }
  }
  return found;
}

TEST(Promote, AReplicantKeepsItsChecksReadyAndAPromotionUsesThem) {
  Pair p;
  p.Start();
  // Started by the supervisor's loop, which ticks every few seconds.
  ASSERT_TRUE(WaitFor([&] { return WaitingFactsChildren(p.replicant) == 1; }, seconds(15)));
  std::string out;
  EXPECT_EQ(p.replicant.Run("promote", &out), 4) << out;  // refused: the master takes writes
  EXPECT_NE(out.find("refusing to promote"), std::string::npos) << out;
  // The one that answered is gone; another waits for the next promotion.
  ASSERT_TRUE(WaitFor([&] { return WaitingFactsChildren(p.replicant) == 1; }, seconds(15)));
  p.master.Kill();
  ASSERT_EQ(p.replicant.Run("promote", &out), 0) << out;
  EXPECT_TRUE(p.replicant.LogContains("does not answer"));
  EXPECT_EQ(WaitingFactsChildren(p.replicant), 0) << "a master keeps nothing for a promotion";
  EXPECT_FALSE(p.replicant.LogContains("kept ready for a promotion ended"));
}

TEST(Promote, RefusedWhileTheOldMasterTakesWritesUnlessForced) {
  Pair p;
  p.Start();
  std::string out;
  EXPECT_EQ(p.replicant.Run("promote", &out), 4) << out;
  EXPECT_NE(out.find("refusing to promote: the old master " + Addr(p.master) +
                     " is still up and accepts writes"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("docker stop"), std::string::npos) << out;
  EXPECT_TRUE(InRecovery(p.replicant)) << "a refused promotion changed nothing";
  EXPECT_TRUE(p.replicant.LogContains("pgkeeper promote: refusing to promote"));

  ASSERT_EQ(p.replicant.Run("promote --force", &out), 0) << out;
  EXPECT_NE(out.find("promoted at "), std::string::npos) << out;
  EXPECT_FALSE(InRecovery(p.replicant));
  EXPECT_TRUE(p.replicant.LogContains("promoting with --force although the old master"));
  EXPECT_EQ(p.replicant.Run("promote --bogus", &out), 2) << out;
}

TEST(Promote, ReportsWhatMayBeLostInTheOutputTheLogTheStatusAndPgdata) {
  Pair p(Vars{{"DESTROY_DATABASE_ON_RESTART", "False"}});
  p.Start();
  ASSERT_EQ(p.master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM t", "1");
  p.replicant.WaitLog("streaming from");
  // What the replicant last heard reaches $PGDATA within a few seconds.
  ASSERT_TRUE(WaitFor([&] { return FileExists(p.replicant.pgdata() + "/pgkeeper.heard"); },
                      seconds(15)));
  p.master.Kill();  // pgkeeper and, with it, postgres: the master is lost
  std::string out;
  ASSERT_EQ(p.replicant.Run("promote", &out), 0) << out;
  EXPECT_TRUE(p.replicant.LogContains("checked before promoting: the old master " + Addr(p.master) +
                                      " does not answer"));
  EXPECT_NE(out.find("promoted at 0/"), std::string::npos) << out;
  EXPECT_NE(out.find("The old master " + Addr(p.master) + " was last heard at "), std::string::npos)
      << out;
  EXPECT_NE(out.find("this node has all of that WAL; only what it wrote after that message may be "
                     "lost"),
            std::string::npos)
      << out;
  EXPECT_TRUE(p.replicant.LogContains("promotion report: promoted at 0/"));
  std::string report = ReadFile(p.replicant.pgdata() + "/pgkeeper.promotion");
  EXPECT_NE(report.find("promoted at 0/"), std::string::npos) << report;
  std::string status;
  ASSERT_EQ(p.replicant.Run("status --json", &status), 0);
  EXPECT_EQ(json::parse(status)["promotion"].get<std::string>() + "\n", report);
  ASSERT_EQ(p.replicant.Query("INSERT INTO t VALUES (2)"), "OK");

  // The report outlives a restart of the promoted node.
  ASSERT_EQ(p.replicant.Stop(), 0);
  p.replicant.UnsetEnv("REPLICATE_FROM");
  p.replicant.Start();
  p.replicant.WaitHealthy();
  ASSERT_EQ(p.replicant.Run("status", &status), 0);
  EXPECT_NE(status.find("promotion   promoted at 0/"), std::string::npos) << status;
}

TEST(Promote, RefusedWhenAnotherReplicantHasMoreWalAndItNamesThatOne) {
  Scratch scratch;
  Node master(scratch, "master");
  Vars keep = {{"DESTROY_DATABASE_ON_RESTART", "False"}};
  Node a(scratch, "replicant-a", ReplicantOf(master, keep));
  Node b(scratch, "replicant-b", ReplicantOf(master, keep));
  // On loopback every replicant has the address 127.0.0.1, so the peers are
  // named; in containers they come from the master's list.
  a.SetEnv("PGKEEPER_PEERS", Addr(b));
  b.SetEnv("PGKEEPER_PEERS", Addr(a));
  StartInOrder(master, {&a, &b});
  ASSERT_EQ(master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  a.WaitQuery("SELECT count(*) FROM t", "1");
  b.WaitQuery("SELECT count(*) FROM t", "1");
  ASSERT_EQ(a.Stop(), 0);
  ASSERT_EQ(master.Query("INSERT INTO t SELECT generate_series(2, 1000)"), "OK");
  b.WaitQuery("SELECT count(*) FROM t", "1000");  // b has it, a does not
  master.Kill();
  a.Start();
  a.WaitHealthy();

  std::string out;
  EXPECT_EQ(a.Run("promote", &out), 4) << out;
  EXPECT_NE(out.find("replicant " + Addr(b) + " (" + Addr(b) + ") has received more WAL than this "
                     "node"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("promote " + Addr(b) + " instead"), std::string::npos) << out;
  EXPECT_TRUE(InRecovery(a));

  ASSERT_EQ(b.Run("promote", &out), 0) << out;
  EXPECT_TRUE(b.LogContains("1 other replicant reached, none ahead of this node"));
  EXPECT_EQ(b.Query("SELECT count(*) FROM t"), "1000");
}

TEST(Promote, StrictSynchronousReplicationReportsThatNoAcknowledgedCommitIsLost) {
  Vars sync = {{"SYNCHRONOUS_REPLICANTS", "1"}};
  Vars replicant_env = sync;
  replicant_env["DESTROY_DATABASE_ON_RESTART"] = "False";
  Pair p(replicant_env, sync);
  p.Start();
  ASSERT_EQ(p.master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  // The replicant learns the master's replicants (itself) within a few seconds.
  ASSERT_TRUE(WaitFor([&] { return FileExists(p.replicant.pgdata() + "/pgkeeper.peers"); },
                      seconds(30)));
  p.master.Kill();
  std::string out;
  ASSERT_EQ(p.replicant.Run("promote", &out), 0) << out;
  EXPECT_NE(out.find("Synchronous replication was strict (ANY 1 of the 1 replicant the master "
                     "named, replicant, at "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("every acknowledged commit is on this node, so no acknowledged commit is lost"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace pgkeeper::testing

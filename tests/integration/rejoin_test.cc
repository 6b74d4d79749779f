// Bringing an old master back as a replicant of the promoted node
// (ALLOW_REJOIN=True): refused without it; with nothing to discard it just
// follows; with writes the new master never got it reports them, keeps
// their WAL beside the data and rewinds (or copies); a rewind stopped midway
// ends in a fresh copy at the next start.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

namespace fs = std::filesystem;

std::string Addr(const Node& n) { return "127.0.0.1:" + std::to_string(n.port()); }

// Makes the old master a would-be replicant of the new one.
void PointAt(Node& old_master, const Node& new_master, bool allow) {
  old_master.SetEnv("REPLICATE_FROM", "127.0.0.1");
  old_master.SetEnv("REPLICATE_PORT", std::to_string(new_master.port()));
  if (allow) old_master.SetEnv("ALLOW_REJOIN", "True");
}

// The rows of a table, in a canonical order, as one checksum.
std::string TableSum(Node& n, const std::string& table) {
  return n.Query("SELECT md5(COALESCE(string_agg(t::text, ',' ORDER BY t::text), '')) FROM " + table + " t");
}

std::vector<std::string> DiscardFolders(const Node& n) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(n.pgdata() + ".pgkeeper", ec)) {
    if (e.path().filename().string().rfind("discarded-", 0) == 0) out.push_back(e.path().string());
  }
  return out;
}

TEST(Rejoin, WithoutAllowRejoinTheOldMasterIsRefusedAndToldHow) {
  Pair p;
  p.Start();
  ASSERT_EQ(p.master.Stop(), 0);
  std::string out;
  ASSERT_EQ(p.replicant.Run("promote", &out), 0) << out;
  PointAt(p.master, p.replicant, false);
  p.master.Start();
  EXPECT_EQ(p.master.Wait(seconds(30)), 4);
  EXPECT_TRUE(p.master.LogContains("set ALLOW_REJOIN=True to make it a replicant of " + Addr(p.replicant)));
}

TEST(Rejoin, ACleanlyStoppedOldMasterFollowsThePromotedReplicantDiscardingNothing) {
  Pair p;
  p.Start();
  ASSERT_EQ(p.master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM t", "1");
  ASSERT_EQ(p.master.Stop(), 0);
  std::string out;
  ASSERT_EQ(p.replicant.Run("promote", &out), 0) << out;
  ASSERT_EQ(p.replicant.Query("INSERT INTO t VALUES (2)"), "OK");

  PointAt(p.master, p.replicant, true);
  p.master.Start();
  p.master.WaitHealthy();
  p.master.WaitLog("decision: rejoin " + Addr(p.replicant) + " as a replicant (ALLOW_REJOIN=True)");
  EXPECT_TRUE(p.master.LogContains("rejoining " + Addr(p.replicant) + " discards nothing"));
  EXPECT_TRUE(p.master.LogContains("rejoin path: nothing to discard"));
  p.master.WaitQuery("SELECT count(*) FROM t", "2");
  EXPECT_EQ(p.master.Query("SELECT pg_is_in_recovery()"), "t");
  EXPECT_TRUE(DiscardFolders(p.master).empty());
  EXPECT_NE(ReadFile(p.master.pgdata() + "/pgkeeper.state").find("origin=rejoined"), std::string::npos);
}

// An old master that wrote after its replicant stopped listening, then
// crashed; the replicant was promoted from its shorter history.
struct Diverged {
  explicit Diverged(int big_rows) : p(Vars{{"DESTROY_DATABASE_ON_RESTART", "False"}}) {
    p.Start();
    EXPECT_EQ(p.master.Query("CREATE TABLE lost(x int)"), "OK");
    if (big_rows > 0) {
      EXPECT_EQ(p.master.Query("CREATE TABLE big AS SELECT g, repeat('x', 100) AS pad "
                               "FROM generate_series(1, " + std::to_string(big_rows) + ") g"),
                "OK");
    }
    // Made last: once the replicant has it, it has everything before.
    EXPECT_EQ(p.master.Query("CREATE TABLE kept AS SELECT 1 AS x"), "OK");
    p.replicant.WaitQuery("SELECT count(*) FROM kept", "1", seconds(120));
    EXPECT_EQ(p.replicant.Stop(), 0);
    for (int i = 1; i <= 3; ++i) {
      EXPECT_EQ(p.master.Query("INSERT INTO lost VALUES (" + std::to_string(i) + ")"), "OK");
    }
    p.master.Kill();  // postgres goes down with it, without a checkpoint
    p.replicant.SetEnv("PROMOTE_MASTER", "True");
    p.replicant.Start();
    p.replicant.WaitHealthy();
    EXPECT_EQ(p.replicant.Query("INSERT INTO kept VALUES (2)"), "OK");
    PointAt(p.master, p.replicant, true);
  }
  Pair p;
};

TEST(Rejoin, AnOldMasterWithWritesTheNewMasterNeverGotReportsKeepsAndRewindsThem) {
  Diverged d(1500000);  // about 190 MB, so that pg_rewind costs less than a copy
  Node& old_master = d.p.master;
  Node& new_master = d.p.replicant;
  old_master.Start();
  old_master.WaitHealthy(seconds(300));
  old_master.WaitLog("rejoined " + Addr(new_master) + " by rewind");
  EXPECT_TRUE(old_master.LogContains("discards this node's WAL after the fork point"));
  EXPECT_TRUE(old_master.LogContains("with 3 committed transactions"));
  EXPECT_TRUE(old_master.LogContains("tables written: gis.lost"));
  EXPECT_TRUE(old_master.LogContains("rejoin path: rewind: pg_rewind moves about"));
  auto folders = DiscardFolders(old_master);
  ASSERT_EQ(folders.size(), 1u);
  std::string report = ReadFile(folders[0] + "/report.txt");
  EXPECT_NE(report.find("3 committed transactions"), std::string::npos) << report;
  bool has_segment = false;
  for (const auto& e : fs::directory_iterator(folders[0])) {
    has_segment |= e.path().filename().string().size() == 24;
  }
  EXPECT_TRUE(has_segment) << "no WAL segment kept in " << folders[0];
  EXPECT_NE(ReadFile(old_master.pgdata() + "/pgkeeper.state").find("discarded=rejoining"), std::string::npos);
  EXPECT_FALSE(FileExists(old_master.pgdata() + ".pgkeeper/rewinding"));

  // After catching up, both hold the same rows: the new master's.
  ASSERT_EQ(new_master.Query("INSERT INTO kept VALUES (3)"), "OK");
  old_master.WaitQuery("SELECT count(*) FROM kept", "3");
  for (const char* table : {"kept", "lost", "big"}) {  // big: made on both before the fork
    EXPECT_EQ(TableSum(old_master, table), TableSum(new_master, table)) << table;
  }
  EXPECT_EQ(old_master.Query("SELECT count(*) FROM lost"), "0");
}

TEST(Rejoin, WhenACopyCostsLessTheOldMasterIsCopiedAfterTheReport) {
  Diverged d(0);
  Node& old_master = d.p.master;
  Node& new_master = d.p.replicant;
  // Much WAL on the new master since the fork, but no more data: pg_rewind
  // is expected to move more than a whole copy.
  ASSERT_EQ(new_master.Query("CREATE TABLE after_fork AS SELECT g, repeat('y', 100) AS pad "
                             "FROM generate_series(1, 800000) g; DROP TABLE after_fork"),
            "OK");
  old_master.Start();
  old_master.WaitHealthy(seconds(120));
  old_master.WaitLog("rejoined " + Addr(new_master) + " by clone");
  EXPECT_TRUE(old_master.LogContains("with 3 committed transactions"));
  EXPECT_TRUE(old_master.LogContains("rejoin path: copy: "));
  EXPECT_EQ(DiscardFolders(old_master).size(), 1u);
  old_master.WaitQuery("SELECT count(*) FROM kept", "2");
  EXPECT_EQ(old_master.Query("SELECT count(*) FROM lost"), "0");
}

TEST(Rejoin, AnOldMasterKilledWhilePgRewindRunsStartsAgainWithAFreshCopy) {
  Diverged d(1500000);
  Node& old_master = d.p.master;
  old_master.Start();
  old_master.WaitLog("pg_rewind: pg_rewind: servers diverged at WAL location", seconds(120));
  old_master.Kill();  // pg_rewind goes down with pgkeeper (parent-death signal)
  EXPECT_TRUE(FileExists(old_master.pgdata() + ".pgkeeper/rewinding"));
  EXPECT_FALSE(old_master.LogContains("pg_rewind: Done!")) << "the rewind finished before the kill";
  old_master.Start();
  old_master.WaitHealthy(seconds(300));
  EXPECT_TRUE(old_master.LogContains("a pg_rewind of this data was stopped midway"));
  old_master.WaitQuery("SELECT count(*) FROM kept", "2");
  EXPECT_EQ(old_master.Query("SELECT count(*) FROM lost"), "0");
  EXPECT_EQ(old_master.Query("SELECT count(*) FROM big"), "1500000");
  EXPECT_FALSE(FileExists(old_master.pgdata() + ".pgkeeper/rewinding"));
  EXPECT_EQ(DiscardFolders(old_master).size(), 1u) << "what the rejoin discards stays kept";
}

TEST(Rejoin, ARewindStoppedMidwayEndsInAFreshCopyAtTheNextStart) {
  Diverged d(0);
  Node& old_master = d.p.master;
  // As pg_rewind leaves things when it is killed: the marker beside PGDATA.
  std::filesystem::create_directories(old_master.pgdata() + ".pgkeeper");
  WriteFile(old_master.pgdata() + ".pgkeeper/rewinding", "pg_rewind from test\n");
  old_master.Start();
  old_master.WaitHealthy(seconds(120));
  EXPECT_TRUE(old_master.LogContains("decision: take a fresh copy of " + Addr(d.p.replicant) +
                                     ": a pg_rewind of this data was stopped midway"));
  old_master.WaitQuery("SELECT count(*) FROM kept", "2");
  EXPECT_FALSE(FileExists(old_master.pgdata() + ".pgkeeper/rewinding"));
}

}  // namespace
}  // namespace pgkeeper::testing

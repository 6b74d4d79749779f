// Synchronous replication against real PostgreSQL: in strict mode a commit
// waits while the replicant is away and returns once it is back, and a
// replicant's copy in progress never confirms one; in available mode
// pgkeeper lowers the requirement when the replicant goes and raises it
// when it returns; pgkeeper's own commits never wait.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <future>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

using json = nlohmann::json;

json StatusOf(Node& node) {
  std::string out;
  EXPECT_EQ(node.Run("status --json", &out), 0) << out;
  return json::parse(out, nullptr, false);
}

// True once the node's /metrics (polled once a second) has the line.
::testing::AssertionResult MetricsShow(Node& node, const std::string& line) {
  std::string metrics;
  if (WaitFor([&] { return node.Http("/metrics", &metrics) == 200 &&
                           metrics.find(line + "\n") != std::string::npos; },
              seconds(10))) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "/metrics never showed '" << line << "':\n" << metrics;
}

// The "synchronous" part of node's status (null when asynchronous).
json SyncOf(Node& node) { return StatusOf(node)["synchronous"]; }

TEST(Sync, StrictCommitsWaitWhileTheReplicantIsAwayAndReturnOnceItIsBack) {
  Pair p({{"DESTROY_DATABASE_ON_RESTART", "False"}}, {{"SYNCHRONOUS_REPLICANTS", "1"}});
  p.Start();
  ASSERT_TRUE(WaitFor([&] { return SyncOf(p.master)["synchronous_replicants"].size() == 1; },
                      seconds(30)))
      << StatusOf(p.master).dump();
  json sync = SyncOf(p.master);
  EXPECT_EQ(sync["required"], 1);
  EXPECT_EQ(sync["mode"], "strict");
  EXPECT_EQ(sync["asked"], 1);
  EXPECT_EQ(sync["commit"], "on");
  EXPECT_EQ(sync["synchronous_replicants"][0], StatusOf(p.master)["replicants"][0]["name"]);
  ASSERT_EQ(p.master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM t", "1");

  ASSERT_EQ(p.replicant.Stop(), 0);
  auto write = std::async(std::launch::async, [&] { return p.master.Query("INSERT INTO t VALUES (2)"); });
  ASSERT_TRUE(WaitFor([&] { return SyncOf(p.master)["waiting_commits"] == 1; }, seconds(30)))
      << "the commit did not wait for the replicant; status: " << StatusOf(p.master).dump();
  EXPECT_NE(write.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "the commit returned without a replicant: " << write.get();
  std::string text;
  p.master.Run("status", &text);
  EXPECT_NE(text.find("1 required (strict, on), asked: ANY 1 of replicant, confirming: none, "
                      "1 commits waiting"),
            std::string::npos)
      << text;
  EXPECT_TRUE(MetricsShow(p.master, "pgkeeper_sync_waiting_commits 1"));

  p.replicant.Start();
  ASSERT_EQ(write.wait_for(std::chrono::seconds(120)), std::future_status::ready)
      << "the commit still waits after the replicant came back";
  EXPECT_EQ(write.get(), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM t", "2");
}

// The master's value of a query with a session of its own, committing
// locally (a strict master's commits would wait).
std::string Local(Node& master, const std::string& sql) {
  return master.Query("SET synchronous_commit = local; " + sql);
}

TEST(Sync, AStrictCommitIssuedDuringACopyWaitsUntilTheNewReplicantStreams) {
  Scratch scratch;
  Node master(scratch, "master", {{"SYNCHRONOUS_REPLICANTS", "1"}});
  master.Start();
  master.WaitHealthy();
  ASSERT_EQ(Local(master, "CREATE TABLE t (x int)"), "OK");
  // Enough to copy for the throttled clone to take several seconds.
  ASSERT_EQ(Local(master, "CREATE TABLE filler AS SELECT g, repeat('x', 400) AS pad "
                          "FROM generate_series(1, 40000) g"),
            "OK");
  Node replicant(scratch, "replicant", ReplicantOf(master, {{"PGKEEPER_CLONE_MAX_RATE", "3M"}}));
  replicant.Start();
  const std::string clone_stream =
      "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pgkeeper_clone' "
      "AND state = 'streaming'";
  ASSERT_TRUE(WaitFor([&] { return master.Query(clone_stream) == "1"; }, seconds(60)))
      << "the copy's WAL stream never started\n" << replicant.Log();

  auto write = std::async(std::launch::async, [&] { return master.Query("INSERT INTO t VALUES (1)"); });
  const std::string waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'";
  ASSERT_TRUE(WaitFor([&] { return master.Query(waiting) == "1"; }, seconds(10)))
      << "the commit did not wait: " << (write.wait_for(seconds(0)) == std::future_status::ready
                                             ? write.get() : std::string("?"));
  const std::string after_commit = master.Query("SELECT pg_current_wal_lsn()");
  // More than two WAL segments, each of which the copy's stream finishes,
  // flushes and reports.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Local(master, "INSERT INTO filler SELECT g, 'y' FROM generate_series(1, 1000) g; "
                            "SELECT pg_switch_wal() IS NOT NULL"),
              "t");
  }
  ASSERT_TRUE(WaitFor([&] {
    return master.Query("SELECT count(*) FROM pg_stat_replication WHERE application_name = "
                        "'pgkeeper_clone' AND flush_lsn >= '" + after_commit + "'") == "1";
  }, seconds(30))) << "the copy's stream never flushed past the waiting commit";
  // What it flushed would release the commit within milliseconds if it counted.
  EXPECT_FALSE(WaitFor([&] { return write.wait_for(seconds(0)) == std::future_status::ready; },
                       seconds(3)))
      << "a commit was acknowledged while its only other copy was in an unfinished clone";
  json replicants = StatusOf(replicant)["clone"];
  ASSERT_EQ(replicants["active"], true)
      << "the copy ended before the check; give the master more data to copy";
  json sync = SyncOf(master);
  // The replicant's slot is made before its copy starts: it is named.
  EXPECT_EQ(sync["may_confirm"], json{"replicant"}) << sync.dump();
  EXPECT_EQ(sync["synchronous_replicants"], json::array()) << sync.dump();
  EXPECT_EQ(sync["waiting_commits"], 1) << sync.dump();
  std::string text;
  master.Run("status", &text);
  EXPECT_NE(text.find("asked: ANY 1 of replicant, confirming: none, 1 commits waiting"),
            std::string::npos) << text;
  EXPECT_TRUE(MetricsShow(master, "pgkeeper_sync_replicant_confirms{name=\"replicant\"} 0"));

  replicant.WaitHealthy();
  ASSERT_EQ(write.wait_for(std::chrono::seconds(120)), std::future_status::ready)
      << "the commit still waits after the replicant streams";
  EXPECT_EQ(write.get(), "OK");
  EXPECT_EQ(replicant.Query("SELECT count(*) FROM t"), "1");
  EXPECT_TRUE(MetricsShow(master, "pgkeeper_sync_replicant_confirms{name=\"replicant\"} 1"));
  EXPECT_TRUE(MetricsShow(master, "pgkeeper_sync_eligible_replicants 1"));
}

TEST(Sync, AvailableModeLowersTheRequirementWhenTheReplicantGoesAndRaisesItWhenItReturns) {
  Pair p({}, {{"SYNCHRONOUS_REPLICANTS", "1"}, {"SYNCHRONOUS_MODE", "available"},
              {"SYNCHRONOUS_COMMIT", "remote_apply"}});
  p.Start();
  p.master.WaitLog("synchronous replication raised to ANY 1 (commits wait for 1 replicant): "
                   "1 of 1 required replicants streams again");
  ASSERT_TRUE(WaitFor([&] { return SyncOf(p.master)["asked"] == 1; }, seconds(10)));
  EXPECT_EQ(SyncOf(p.master)["commit"], "remote_apply");
  // remote_apply: once the commit returns, the replicant's queries see it.
  ASSERT_EQ(p.master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  EXPECT_EQ(p.replicant.Query("SELECT count(*) FROM t"), "1");

  ASSERT_EQ(p.replicant.Stop(), 0);
  p.master.WaitLog("synchronous replication lowered to off (commits wait for no replicant): "
                   "only 0 of 1 required replicants stream (SYNCHRONOUS_MODE=available)");
  EXPECT_EQ(p.master.Query("INSERT INTO t VALUES (2)"), "OK") << "a commit waited in available mode";
  EXPECT_EQ(SyncOf(p.master)["asked"], 0);
  EXPECT_TRUE(MetricsShow(p.master, "pgkeeper_sync_asked_replicants 0"));
  EXPECT_TRUE(MetricsShow(p.master, "pgkeeper_sync_required_replicants 1"));

  p.replicant.Start();
  ASSERT_TRUE(WaitFor([&] { return SyncOf(p.master)["asked"] == 1; }, seconds(60)))
      << "the requirement was not raised again; status: " << StatusOf(p.master).dump();
  p.replicant.WaitQuery("SELECT count(*) FROM t", "2");
}

TEST(Sync, AStrictMasterWithoutReplicantsStillInitialisesRestartsAndAppliesPasswords) {
  Scratch scratch;
  Node master(scratch, "master", {{"SYNCHRONOUS_REPLICANTS", "1"}});
  master.AddInitScript("10-table.sql", "CREATE TABLE made_at_init AS SELECT 1 AS x;");
  master.Start();
  master.WaitHealthy();
  EXPECT_EQ(master.Query("SELECT count(*) FROM made_at_init"), "1");
  ASSERT_EQ(master.Stop(), 0);
  master.SetEnv("POSTGRES_PASS", std::string(kPassword) + "-changed");
  master.Start();
  master.WaitHealthy();
  EXPECT_EQ(master.Query("SELECT 1"), "1") << "the changed password was not applied";
  EXPECT_EQ(SyncOf(master)["asked"], 1) << "user commits still wait for a replicant";
}

}  // namespace
}  // namespace pgkeeper::testing

// Replication slots against real PostgreSQL: every replicant streams through
// a slot on its upstream that it made itself, a stopped replicant resumes
// without a copy, WAL_RETAIN_MAX bounds what a dead replicant's slot holds,
// status and metrics show the slots, and drop-slot drops an unused one.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <iostream>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

using json = nlohmann::json;
constexpr int64_t kSegment = 16 * 1024 * 1024;

int64_t Lsn(Node& node) {
  std::string diff = node.Query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint");
  return std::stoll(diff);
}

// Writes on node until its WAL has moved at least `bytes`, switching
// segments and checkpointing so that the old ones can be recycled.
void WriteWal(Node& node, int64_t bytes) {
  ASSERT_EQ(node.Query("CREATE TABLE IF NOT EXISTS churn(x int)"), "OK");
  int64_t start = Lsn(node);
  while (Lsn(node) - start < bytes) {
    ASSERT_EQ(node.Query("INSERT INTO churn SELECT generate_series(1, 100000)"), "OK");
    ASSERT_EQ(node.Query("SELECT pg_switch_wal() IS NOT NULL"), "t");
    ASSERT_EQ(node.Query("CHECKPOINT"), "OK");
  }
}

json Status(Node& node) {
  std::string out;
  EXPECT_EQ(node.Run("status --json", &out), 0) << out;
  return json::parse(out, nullptr, false);
}

// The slot called name in node's status, or null.
json SlotOf(Node& node, const std::string& name) {
  json status = Status(node);
  for (const auto& slot : status["slots"]) {
    if (slot["name"] == name) return slot;
  }
  return nullptr;
}

// Waits until the slot called name on node is active (or not).
void WaitSlotActive(Node& node, const std::string& name, bool active) {
  ASSERT_TRUE(WaitFor([&] { return SlotOf(node, name)["active"] == active; }, seconds(10)))
      << "slot " << name << " never became " << (active ? "active" : "inactive")
      << "; status: " << Status(node).dump();
}

TEST(Slots, AReplicantStreamsThroughItsOwnSlotShownInStatusAndMetrics) {
  Pair p;
  p.Start();
  p.replicant.WaitLog("streaming from 127.0.0.1:");
  EXPECT_TRUE(p.replicant.LogContains("slot replicant on 127.0.0.1:" +
                                      std::to_string(p.master.port()) +
                                      ": none yet; creating it"));
  EXPECT_EQ(p.master.Query("SELECT slot_name FROM pg_stat_replication r "
                           "JOIN pg_replication_slots s ON s.active_pid = r.pid"),
            "replicant");
  WaitSlotActive(p.master, "replicant", true);
  json slot = SlotOf(p.master, "replicant");
  EXPECT_EQ(slot["replicant"], "replicant");
  EXPECT_EQ(slot["wal_status"], "reserved");
  EXPECT_TRUE(slot["retained_bytes"].is_number());
  std::string table;
  EXPECT_EQ(p.master.Run("status", &table), 0);
  EXPECT_NE(table.find("slots       1\n  replicant           active"), std::string::npos) << table;
  std::string metrics;
  ASSERT_TRUE(WaitFor([&] { return p.master.Http("/metrics", &metrics) == 200 &&
                                   metrics.find("pgkeeper_slot_active{slot=\"replicant\"} 1") !=
                                       std::string::npos; },
                      seconds(10)))
      << metrics;
}

TEST(Slots, DropSlotRefusesTheSlotOfAStreamingReplicantAndDropsAnUnusedOne) {
  Pair p;
  p.Start();
  WaitSlotActive(p.master, "replicant", true);
  std::string out;
  EXPECT_EQ(p.master.Run("drop-slot replicant", &out), 4) << out;
  EXPECT_NE(out.find("replicant replicant streams through slot replicant right now"),
            std::string::npos)
      << out;
  EXPECT_EQ(p.master.Run("drop-slot nosuch", &out), 4) << out;
  EXPECT_NE(out.find("no replication slot named nosuch"), std::string::npos) << out;
  EXPECT_EQ(p.master.Run("drop-slot", &out), 2) << out;

  EXPECT_EQ(p.replicant.Stop(), 0);
  WaitSlotActive(p.master, "replicant", false);
  EXPECT_EQ(p.master.Run("drop-slot replicant", &out), 0) << out;
  EXPECT_NE(out.find("dropped replication slot replicant"), std::string::npos) << out;
  EXPECT_EQ(p.master.Query("SELECT count(*) FROM pg_replication_slots"), "0");
}

TEST(Slots, AReplicantStoppedWhileTheMasterWritesThreeTimesWalKeepSizeResumesWithoutACopy) {
  Pair p(Vars{{"DESTROY_DATABASE_ON_RESTART", "False"}}, Vars{{"WAL_KEEP_SIZE", "16MB"}});
  p.Start();
  std::string marker = p.replicant.pgdata() + "/test-marker";
  WriteFile(marker, "here");
  EXPECT_EQ(p.replicant.Stop(), 0);
  WriteWal(p.master, 3 * 16 * 1024 * 1024);
  ASSERT_EQ(p.master.Query("CREATE TABLE after AS SELECT 42 AS x"), "OK");
  size_t log_before = p.replicant.Log().size();
  p.replicant.Start();
  p.replicant.WaitHealthy();
  p.replicant.WaitQuery("SELECT x FROM after", "42");
  EXPECT_TRUE(p.replicant.LogContains("decision: resume streaming from"));
  EXPECT_TRUE(p.replicant.LogContains("slot replicant on 127.0.0.1:" +
                                      std::to_string(p.master.port()) + " holds WAL from"));
  EXPECT_EQ(p.replicant.Log().find("pg_basebackup", log_before), std::string::npos)
      << "the restart made a copy";
  EXPECT_TRUE(FileExists(marker)) << "the data directory was replaced by a copy";
}

// Past segments in the master's pg_wal, excluding recycled ones kept for reuse
// (named after the current segment).
int64_t PastWalBytes(Node& node) {
  return std::stoll(node.Query(
      "SELECT COALESCE(sum(size), 0) FROM pg_ls_waldir() "
      "WHERE name ~ '^[0-9A-F]{24}$' AND name < pg_walfile_name(pg_current_wal_lsn())"));
}

TEST(Slots, WalRetainMaxBoundsWhatTheSlotOfADeadReplicantHolds) {
  Pair p(Vars{{"DESTROY_DATABASE_ON_RESTART", "False"}},
         Vars{{"WAL_KEEP_SIZE", "0"}, {"WAL_RETAIN_MAX", "32MB"}});
  p.Start();
  EXPECT_EQ(p.replicant.Stop(), 0);
  WriteWal(p.master, 8 * kSegment);
  int64_t past = PastWalBytes(p.master);
  std::cout << "pg_wal past segments after 8 segments of writes: " << past / kSegment
            << " (WAL_RETAIN_MAX = 2 segments)\n";
  EXPECT_LE(past, 32 * 1024 * 1024 + kSegment) << "pg_wal holds more than WAL_RETAIN_MAX + a segment";
  json slot = SlotOf(p.master, "replicant");
  EXPECT_EQ(slot["wal_status"], "lost") << slot.dump();
  EXPECT_EQ(slot["retained_bytes"], nullptr) << slot.dump();

  // Back, the replicant finds its WAL gone and takes a fresh copy by itself,
  // through its slot made again.
  ASSERT_EQ(p.master.Query("CREATE TABLE after AS SELECT 43 AS x"), "OK");
  p.replicant.Start();
  p.replicant.WaitQuery("SELECT x FROM after", "43", seconds(120));
  EXPECT_TRUE(p.replicant.LogContains("decision: take a fresh copy of"));
  EXPECT_TRUE(p.replicant.LogContains("holds no WAL"));
  WaitSlotActive(p.master, "replicant", true);
  EXPECT_EQ(SlotOf(p.master, "replicant")["wal_status"], "reserved");
}

TEST(Slots, MasterTwoReplicantsAndACascadedReplicantAllGetARow) {
  Scratch scratch;
  Node master(scratch, "master");
  Node a(scratch, "replicant-a", ReplicantOf(master));
  Node b(scratch, "replicant-b", ReplicantOf(master));
  Node c(scratch, "cascade", ReplicantOf(a));
  StartInOrder(master, {&a, &b});
  c.Start();  // cascades from a
  c.WaitHealthy();
  ASSERT_EQ(master.Query("CREATE TABLE t AS SELECT 'everywhere'::text AS x"), "OK");
  for (Node* n : {&a, &b, &c}) n->WaitQuery("SELECT x FROM t", "everywhere");

  // Each node tells its part of the tree: the master two replicants and their
  // slots, replicant-a its upstream and its own replicant with its slot.
  WaitSlotActive(a, "cascade", true);
  json sa = Status(a);
  EXPECT_EQ(sa["master"], "127.0.0.1:" + std::to_string(master.port()));
  ASSERT_EQ(sa["replicants"].size(), 1u) << sa.dump();
  EXPECT_EQ(sa["replicants"][0]["name"], "cascade");
  json sm = Status(master);
  ASSERT_EQ(sm["replicants"].size(), 2u) << sm.dump();
  EXPECT_EQ(sm["replicants"][0]["name"], "replicant_a");
  EXPECT_EQ(sm["replicants"][1]["name"], "replicant_b");
  EXPECT_FALSE(SlotOf(master, "replicant_a").is_null());
  EXPECT_FALSE(SlotOf(master, "replicant_b").is_null());
  EXPECT_TRUE(SlotOf(master, "cascade").is_null()) << "the cascaded replicant's slot is on replicant-a";
}

}  // namespace
}  // namespace pgkeeper::testing

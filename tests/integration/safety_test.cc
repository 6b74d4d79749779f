// Data safety: interrupted clones keep the old data, promotion, and refusals
// that protect writes existing nowhere else.
#include <gtest/gtest.h>

#include <filesystem>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

// A master and a replicant that streamed once and is now stopped, holding
// data with a marker file and one table.
struct StoppedPair : Pair {
  std::string marker;

  void SetUp() {
    Start();
    ASSERT_EQ(master.Query("CREATE TABLE kept AS SELECT 5 AS x"), "OK");
    replicant.WaitQuery("SELECT x FROM kept", "5");
    marker = replicant.pgdata() + "/test-marker";
    WriteFile(marker, "old data");
    ASSERT_EQ(replicant.Stop(), 0);
  }
};

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

void StartSlowReclone(StoppedPair& p) {
  // 32 kB/s: the copy takes minutes, so it is surely interrupted half way.
  p.replicant.SetEnv("PGKEEPER_CLONE_MAX_RATE", "32");
  p.replicant.Start();
  p.replicant.WaitLog("decision: take a fresh copy");
  ASSERT_TRUE(WaitFor([&] { return FileExists(p.replicant.pgdata() + "/.pgkeeper-new/backup_label"); },
                      seconds(60)))
      << p.replicant.Log();
}

void ExpectOldDataResumes(StoppedPair& p, const std::vector<std::string>& before) {
  EXPECT_EQ(ReadFile(p.marker), "old data");
  std::vector<std::string> after = Entries(p.replicant.pgdata());
  after.erase(std::remove(after.begin(), after.end(), ".pgkeeper-new"), after.end());
  EXPECT_EQ(after, before);
  p.replicant.UnsetEnv("PGKEEPER_CLONE_MAX_RATE");
  p.replicant.SetEnv("DESTROY_DATABASE_ON_RESTART", "False");
  p.replicant.Start();
  p.replicant.WaitHealthy();
  EXPECT_FALSE(FileExists(p.replicant.pgdata() + "/.pgkeeper-new"));
  EXPECT_EQ(ReadFile(p.marker), "old data");
  p.replicant.WaitQuery("SELECT x FROM kept", "5");
}

TEST(Safety, CloneKilledHalfWayLeavesTheOldDataIntact) {
  StoppedPair p;
  p.SetUp();
  std::vector<std::string> before = Entries(p.replicant.pgdata());
  StartSlowReclone(p);
  p.replicant.Kill();  // SIGKILL: no chance to clean up
  ExpectOldDataResumes(p, before);
  EXPECT_TRUE(p.replicant.LogContains("remove incomplete build"));
}

TEST(Safety, SigtermDuringCloneStopsPromptlyAndKeepsTheOldData) {
  StoppedPair p;
  p.SetUp();
  std::vector<std::string> before = Entries(p.replicant.pgdata());
  StartSlowReclone(p);
  EXPECT_EQ(p.replicant.Stop(SIGTERM, seconds(10)), 128 + SIGTERM);
  ExpectOldDataResumes(p, before);
}

TEST(Safety, PromotionWithTheMasterGoneGivesAWritableMasterThatServesReplicants) {
  StoppedPair p;
  p.SetUp();
  EXPECT_EQ(p.master.Stop(), 0);  // the master is lost
  p.replicant.SetEnv("PROMOTE_MASTER", "True");
  p.replicant.SetEnv("DESTROY_DATABASE_ON_RESTART", "False");
  p.replicant.Start();
  p.replicant.WaitHealthy();
  EXPECT_TRUE(p.replicant.LogContains("decision: promote this replicant's own data"));
  EXPECT_EQ(p.replicant.Query("SELECT pg_is_in_recovery()"), "f");
  EXPECT_EQ(p.replicant.Query("INSERT INTO kept VALUES (6)"), "OK");

  // The promoted node accepts a replicant of its own.
  Node second(p.scratch, "second", ReplicantOf(p.replicant));
  second.Start();
  second.WaitHealthy();
  second.WaitQuery("SELECT count(*) FROM kept", "2");

  // Restarting with PROMOTE_MASTER still set keeps it a master.
  EXPECT_EQ(p.replicant.Stop(), 0);
  p.replicant.Start();
  p.replicant.WaitHealthy();
  EXPECT_TRUE(p.replicant.LogContains("decision: start as master: this data was promoted already"));
  EXPECT_EQ(p.replicant.Query("INSERT INTO kept VALUES (7)"), "OK");
  EXPECT_EQ(second.Stop(), 0);
  EXPECT_EQ(p.replicant.Stop(), 0);

  // Configured as a replicant again (destroy True): refuse to clone over the writes.
  p.master.Start();
  p.master.WaitHealthy();
  p.replicant.UnsetEnv("PROMOTE_MASTER");
  p.replicant.SetEnv("DESTROY_DATABASE_ON_RESTART", "True");
  p.replicant.Start();
  EXPECT_EQ(p.replicant.Wait(seconds(30)), 4);
  EXPECT_TRUE(p.replicant.LogContains("refusing to start: the data directory holds a promoted replicant's data"));
  EXPECT_TRUE(p.replicant.LogContains("delete the contents of"));
  EXPECT_EQ(ReadFile(p.marker), "old data");
}

TEST(Safety, PromoteMasterWithNothingToPromoteIsAnError) {
  Scratch scratch;
  Node master(scratch, "master");
  master.Start();
  master.WaitHealthy();
  Node empty(scratch, "empty", ReplicantOf(master, {{"PROMOTE_MASTER", "yes"}}));
  empty.Start();
  EXPECT_EQ(empty.Wait(seconds(30)), 3);
  EXPECT_TRUE(empty.LogContains("nothing to promote"));
  EXPECT_FALSE(FileExists(empty.pgdata() + "/PG_VERSION"));
}

}  // namespace
}  // namespace pgkeeper::testing

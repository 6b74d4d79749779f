// Master and replicant on loopback: streaming, read-only, restarts with and
// without DESTROY_DATABASE_ON_RESTART, an absent master, recycled WAL.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

constexpr const char kReadOnly[] = "ERROR: 25006";  // read_only_sql_transaction

// A file placed in the replicant's data directory survives only if the
// directory is reused rather than replaced by a fresh clone.
std::string PlaceMarker(const Node& node) {
  std::string marker = node.pgdata() + "/test-marker";
  WriteFile(marker, "here");
  return marker;
}

// Moves the master several WAL segments on and lets checkpoints recycle the
// old ones (with WAL_KEEP_SIZE=0 and WAL_RETAIN_MAX=0 nothing keeps them).
void RecycleWal(Node& master) {
  EXPECT_EQ(master.Query("CREATE TABLE churn(x int)"), "OK");
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(master.Query("INSERT INTO churn SELECT generate_series(1, 20000)"), "OK");
    EXPECT_NE(master.Query("SELECT pg_switch_wal()").rfind("ERROR", 0), 0u);
    EXPECT_EQ(master.Query("CHECKPOINT"), "OK");
  }
}

TEST(Replication, TableMadeOnMasterAppearsOnReplicantWhichRejectsWrites) {
  Pair p;
  p.Start();
  Node& master = p.master;
  Node& replicant = p.replicant;
  EXPECT_TRUE(replicant.LogContains("decision: clone the master"));
  replicant.WaitLog("streaming from 127.0.0.1:");

  EXPECT_EQ(master.Query("CREATE TABLE roads(id int, name text)"), "OK");
  EXPECT_EQ(master.Query("INSERT INTO roads VALUES (1, 'A1')"), "OK");
  replicant.WaitQuery("SELECT name FROM roads WHERE id = 1", "A1");
  EXPECT_EQ(replicant.Query("INSERT INTO roads VALUES (2, 'B2')").rfind(kReadOnly, 0), 0u);
  EXPECT_EQ(replicant.Query("SELECT pg_is_in_recovery()"), "t");
  EXPECT_EQ(master.Query("SELECT state FROM pg_stat_replication"), "streaming");
}

TEST(Replication, RestartWithDestroyFalseResumesStreamingWithoutNewClone) {
  Pair p(Vars{{"DESTROY_DATABASE_ON_RESTART", "False"}});
  p.Start();
  Node& master = p.master;
  Node& replicant = p.replicant;
  std::string marker = PlaceMarker(replicant);
  EXPECT_EQ(replicant.Stop(), 0);
  EXPECT_EQ(master.Query("CREATE TABLE while_down AS SELECT 7 AS x"), "OK");
  replicant.Start();
  replicant.WaitHealthy();
  replicant.WaitQuery("SELECT x FROM while_down", "7");
  EXPECT_TRUE(replicant.LogContains("decision: resume streaming from"));
  EXPECT_TRUE(FileExists(marker)) << "the data directory was replaced";
  EXPECT_EQ(master.Query("SELECT state FROM pg_stat_replication"), "streaming");
}

TEST(Replication, RestartWithDestroyTrueTakesAFreshCopy) {
  Pair p;
  p.Start();
  Node& master = p.master;
  Node& replicant = p.replicant;
  std::string marker = PlaceMarker(replicant);
  EXPECT_EQ(replicant.Stop(), 0);
  EXPECT_EQ(master.Query("CREATE TABLE while_down AS SELECT 8 AS x"), "OK");
  replicant.Start();
  replicant.WaitHealthy();
  EXPECT_TRUE(replicant.LogContains("decision: take a fresh copy of the master"));
  EXPECT_FALSE(FileExists(marker)) << "the old data directory was kept";
  replicant.WaitQuery("SELECT x FROM while_down", "8");
  EXPECT_FALSE(FileExists(replicant.pgdata() + "/.pgkeeper-old"));
  EXPECT_FALSE(FileExists(replicant.pgdata() + "/.pgkeeper-ready"));
}

TEST(Replication, ReplicantWaitsForAnAbsentMasterThenClonesIt) {
  Scratch scratch;
  Node master(scratch, "master");
  Node replicant(scratch, "replicant", ReplicantOf(master));
  replicant.Start();
  replicant.WaitLog("waiting for master 127.0.0.1:" + std::to_string(master.port()) + " (attempt 2)");
  EXPECT_TRUE(replicant.Running());
  EXPECT_FALSE(replicant.Healthy());
  EXPECT_FALSE(FileExists(replicant.pgdata() + "/PG_VERSION"));
  master.Start();
  auto start = std::chrono::steady_clock::now();
  master.WaitHealthy();
  replicant.WaitHealthy();
  // Backoff is capped at a few seconds: the replicant follows soon after.
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(30));
  EXPECT_EQ(master.Query("CREATE TABLE late AS SELECT 1 AS x"), "OK");
  replicant.WaitQuery("SELECT x FROM late", "1");
}

TEST(Replication, DedicatedReplicationUserStreamsWithoutSuperuserRights) {
  Vars repl = {{"REPLICATION_USER", "replicator"}, {"REPLICATION_PASS", "repl-pass-42"}};
  Pair p(repl, repl);
  p.Start();
  Node& master = p.master;
  EXPECT_EQ(master.Query("SELECT rolreplication::text || rolsuper::text FROM pg_roles WHERE rolname = 'replicator'"),
            "truefalse");
  EXPECT_EQ(master.Query("SELECT usename FROM pg_stat_replication"), "replicator");
}

TEST(Replication, ReplicantWhoseWalWasRecycledTakesAFreshCopyByItself) {
  // WAL_RETAIN_MAX=0: the replicant's slot keeps nothing beyond WAL_KEEP_SIZE.
  Pair p(Vars{{"DESTROY_DATABASE_ON_RESTART", "False"}},
         Vars{{"WAL_KEEP_SIZE", "0"}, {"WAL_RETAIN_MAX", "0"}});
  p.Start();
  Node& master = p.master;
  Node& replicant = p.replicant;
  EXPECT_EQ(replicant.Stop(), 0);
  std::string marker = PlaceMarker(replicant);
  RecycleWal(master);
  EXPECT_EQ(master.Query("CREATE TABLE after_gap AS SELECT 5 AS x"), "OK");
  replicant.Start();
  replicant.WaitLog("no longer has WAL this replicant needs", seconds(60));
  replicant.WaitLog("decision: take a fresh copy of 127.0.0.1:" + std::to_string(master.port()) +
                    ": it no longer has WAL this replicant needs");
  replicant.WaitQuery("SELECT x FROM after_gap", "5", seconds(120));
  replicant.WaitHealthy();
  EXPECT_FALSE(FileExists(marker)) << "the old data was not replaced";
  EXPECT_FALSE(FileExists(replicant.pgdata() + "/.pgkeeper-old"));
  EXPECT_EQ(master.Query("SELECT state FROM pg_stat_replication"), "streaming");
}

// A tmpfs of a given size mounted at path, for as long as this lives.
class SmallDisk {
 public:
  SmallDisk(const std::string& path, int megabytes) : path_(path) {
    mkdir(path.c_str(), 0755);
    mounted_ = Mount("size=" + std::to_string(megabytes) + "M,mode=0755", "");
  }
  ~SmallDisk() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  bool Resize(int megabytes) { return Mount("size=" + std::to_string(megabytes) + "M", "remount"); }

 private:
  bool Mount(const std::string& options, const std::string& extra) {
    unsigned long flags = extra == "remount" ? MS_REMOUNT : 0;
    return mount("tmpfs", path_.c_str(), "tmpfs", flags, options.c_str()) == 0;
  }
  std::string path_;
  bool mounted_ = false;
};

TEST(Replication, AStalledReplicantWithoutRoomForASecondCopySaysSoAndCopiesOnceThereIsRoom) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a small disk needs root";
  Scratch scratch;
  // One copy of the replicant (about 46 MB) fits in 120 MB; a second one
  // beside it (the data, a tenth, 64 MB of WAL) does not.
  SmallDisk disk(scratch.path() + "/small", 120);
  if (!disk.mounted() && errno == EPERM) GTEST_SKIP() << "this machine does not let root mount a tmpfs";
  ASSERT_TRUE(disk.mounted()) << strerror(errno);
  Node master(scratch, "master", {{"WAL_KEEP_SIZE", "0"}, {"WAL_RETAIN_MAX", "0"}});
  Node replicant(scratch, "replicant",
                 ReplicantOf(master, {{"DESTROY_DATABASE_ON_RESTART", "False"},
                                      {"PGDATA", scratch.path() + "/small/data"}}));
  master.Start();
  master.WaitHealthy();
  replicant.Start();
  replicant.WaitHealthy();
  EXPECT_EQ(replicant.Stop(), 0);
  RecycleWal(master);
  EXPECT_EQ(master.Query("CREATE TABLE after_gap AS SELECT 6 AS x"), "OK");

  replicant.Start();
  replicant.WaitLog("cannot hold two copies", seconds(60));
  EXPECT_TRUE(replicant.LogContains("give it more room"));
  // The status file follows the log line; under load it may come a moment later.
  std::string state;
  WaitFor([&] {
    state = ReadFile(replicant.run_dir() + "/pgkeeper.status");
    return state.find("cannot hold two copies") != std::string::npos;
  }, seconds(10));
  EXPECT_NE(state.find("\"phase\":\"stalled\""), std::string::npos) << state;
  EXPECT_NE(state.find("cannot hold two copies"), std::string::npos) << state;
  EXPECT_TRUE(replicant.Running()) << "a replicant without room must wait, not exit";
  EXPECT_FALSE(replicant.Healthy());
  EXPECT_FALSE(replicant.LogContains("decision: take a fresh copy"));
  // Still serving its old data read-only.
  EXPECT_EQ(replicant.Query("SELECT pg_is_in_recovery()"), "t");

  ASSERT_TRUE(disk.Resize(400));
  replicant.WaitLog("decision: take a fresh copy", seconds(60));
  replicant.WaitQuery("SELECT x FROM after_gap", "6", seconds(120));
  replicant.WaitHealthy();
}

}  // namespace
}  // namespace pgkeeper::testing

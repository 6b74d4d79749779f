// Following a new master after a promotion: live with `pgkeeper follow`,
// across restarts until REPLICATE_FROM changes, by a restart with
// REPLICATE_FROM naming the promoted node, and the case where the histories
// do not allow it (the replicant had replayed past the fork point).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

using json = nlohmann::json;

std::string Addr(const Node& n) { return "127.0.0.1:" + std::to_string(n.port()); }

json StatusOf(Node& node) {
  std::string out;
  EXPECT_EQ(node.Run("status --json", &out), 0) << out;
  return json::parse(out, nullptr, false);
}

// A master and two replicants, a and b, that both have table t's first row.
struct Trio {
  explicit Trio(Vars a_env = {}, Vars b_env = {})
      : master(scratch, "master"),
        a(scratch, "a", ReplicantOf(master, std::move(a_env))),
        b(scratch, "b", ReplicantOf(master, std::move(b_env))) {}
  void StartWithARow(const std::string& row) {
    StartInOrder(master, {&a, &b});
    ASSERT_EQ(master.Query("CREATE TABLE t(x text); INSERT INTO t VALUES ('" + row + "')"), "OK");
    a.WaitQuery("SELECT count(*) FROM t", "1");
    b.WaitQuery("SELECT count(*) FROM t", "1");
  }
  Scratch scratch;
  Node master, a, b;
};

// A Trio whose master has stopped after the first row, and whose replicant
// a has been promoted live and written a row of its own.
struct Promoted : Trio {
  explicit Promoted(Vars b_env = {}) : Trio({}, std::move(b_env)) {}
  void Start() {
    StartWithARow("before");
    ASSERT_EQ(master.Stop(), 0);
    std::string out;
    ASSERT_EQ(a.Run("promote", &out), 0) << out;
    ASSERT_EQ(a.Query("INSERT INTO t VALUES ('after')"), "OK");
  }
};

TEST(Follow, AfterAPromotionAReplicantFollowsTheNewMasterLiveWithoutACopy) {
  Promoted p(Vars{{"DESTROY_DATABASE_ON_RESTART", "False"}});
  p.Start();
  size_t log_before = p.b.Log().size();
  std::string out;
  ASSERT_EQ(p.b.Run("follow " + Addr(p.a), &out), 0) << out << p.b.Log();
  EXPECT_NE(out.find("now following " + Addr(p.a) + " instead of " + Addr(p.master) +
                     ", without a restart or a copy"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("streaming from " + Addr(p.a)), std::string::npos) << out;
  p.b.WaitQuery("SELECT count(*) FROM t WHERE x = 'after'", "1");
  EXPECT_EQ(p.b.Log().find("pg_basebackup", log_before), std::string::npos) << "a copy was made";
  json s = StatusOf(p.b);
  EXPECT_EQ(s["master"], Addr(p.a));
  EXPECT_EQ(s["timeline"], 2);
  EXPECT_EQ(p.a.Query("SELECT active::text FROM pg_replication_slots WHERE slot_name = 'b'"), "true");

  // A restart keeps following a, without a copy.
  ASSERT_EQ(p.b.Stop(), 0);
  log_before = p.b.Log().size();
  p.b.Start();
  p.b.WaitHealthy();
  p.b.WaitLog("following " + Addr(p.a) + " as `pgkeeper follow` asked at ");
  ASSERT_EQ(p.a.Query("INSERT INTO t VALUES ('after restart')"), "OK");
  p.b.WaitQuery("SELECT count(*) FROM t WHERE x = 'after restart'", "1");
  EXPECT_EQ(p.b.Log().find("pg_basebackup", log_before), std::string::npos) << "a copy was made";

  // Naming a in REPLICATE_FROM itself ends the record.
  ASSERT_EQ(p.b.Stop(), 0);
  p.b.SetEnv("REPLICATE_PORT", std::to_string(p.a.port()));
  p.b.Start();
  p.b.WaitHealthy();
  p.b.WaitLog("REPLICATE_FROM changed from " + Addr(p.master) + " since `pgkeeper follow` chose " +
              Addr(p.a) + ", so that choice is dropped");
  EXPECT_FALSE(FileExists(p.b.pgdata() + "/pgkeeper.follow"));
  ASSERT_EQ(p.a.Query("INSERT INTO t VALUES ('third')"), "OK");
  p.b.WaitQuery("SELECT count(*) FROM t WHERE x = 'third'", "1");
}

TEST(Follow, AReplicantRestartedWithReplicateFromNamingThePromotedNodeContinuesWithoutACopy) {
  Promoted p(Vars{{"DESTROY_DATABASE_ON_RESTART", "False"}});
  p.Start();
  ASSERT_EQ(p.b.Stop(), 0);
  p.b.SetEnv("REPLICATE_PORT", std::to_string(p.a.port()));
  size_t log_before = p.b.Log().size();
  p.b.Start();
  p.b.WaitHealthy();
  p.b.WaitQuery("SELECT count(*) FROM t WHERE x = 'after'", "1");
  EXPECT_EQ(p.b.Log().find("pg_basebackup", log_before), std::string::npos) << "a copy was made";
  EXPECT_EQ(StatusOf(p.b)["timeline"], 2);
}

TEST(Follow, IsRefusedOnAMasterAndForAnArgumentThatIsNotAnUpstream) {
  Pair p;
  p.Start();
  std::string out;
  EXPECT_EQ(p.master.Run("follow 127.0.0.1:5432", &out), 4) << out;
  EXPECT_NE(out.find("this node is a master"), std::string::npos) << out;
  EXPECT_EQ(p.replicant.Run("follow 'pg master'", &out), 2) << out;
  EXPECT_NE(out.find("expected HOST, HOST:PORT or [IPV6]:PORT"), std::string::npos) << out;
  EXPECT_EQ(p.replicant.Run("follow", &out), 2) << out;
  // Following the upstream it already follows changes nothing.
  EXPECT_EQ(p.replicant.Run("follow " + Addr(p.master), &out), 0) << out;
  EXPECT_NE(out.find("already following"), std::string::npos) << out;
}

TEST(Follow, AReplicantThatReplayedPastTheForkPointSaysSoAndTakesAFreshCopy) {
  const Vars keep = {{"DESTROY_DATABASE_ON_RESTART", "False"}};
  Trio trio(keep, keep);
  Node& master = trio.master;
  Node& a = trio.a;
  Node& b = trio.b;
  trio.StartWithARow("both");
  // a stops; b goes on replaying writes that a never gets.
  ASSERT_EQ(a.Stop(), 0);
  ASSERT_EQ(master.Query("INSERT INTO t VALUES ('only on the old master and b')"), "OK");
  b.WaitQuery("SELECT count(*) FROM t", "2");
  ASSERT_EQ(master.Stop(), 0);
  // a becomes the new master from its own, shorter history.
  a.SetEnv("PROMOTE_MASTER", "True");
  a.Start();
  a.WaitHealthy();
  ASSERT_EQ(a.Query("INSERT INTO t VALUES ('new master')"), "OK");

  std::string out;
  ASSERT_EQ(b.Run("follow " + Addr(a), &out), 0) << out;
  b.WaitLog("its timeline forked off before the position this replicant has replayed");
  b.WaitLog("decision: take a fresh copy of " + Addr(a) + ": its timeline forked off");
  b.WaitQuery("SELECT string_agg(x, ',' ORDER BY x) FROM t", "both,new master", seconds(120));
  b.WaitHealthy();
}

}  // namespace
}  // namespace pgkeeper::testing

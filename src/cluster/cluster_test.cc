#include "cluster/cluster.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cluster/election_fixtures.h"

namespace pgkeeper {
namespace {

using fixtures::Member;

using ::testing::HasSubstr;

Status Parse(Env env, Config* c) {
  env.emplace("POSTGRES_PASS", "secret-password");
  return ParseConfig(env, [](const std::string&, std::string*) { return Status::System("no"); }, c);
}

TEST(ParseClusterConfig, OffWithoutEtcdEndpoints) {
  Config c;
  ASSERT_TRUE(Parse({}, &c).ok());
  EXPECT_FALSE(c.cluster.enabled());
}

TEST(ParseClusterConfig, TakesEveryVariable) {
  Config c;
  ASSERT_TRUE(Parse({{"ETCD_ENDPOINTS", "http://e1:2379,http://e2:2379"},
                     {"PGKEEPER_CLUSTER", "geo-1"},
                     {"PGKEEPER_ADVERTISE_ADDRESS", "pg-a"},
                     {"PGKEEPER_LEASE_TTL", "5"},
                     {"PGKEEPER_FAILOVER_MAX_LAG", "64MB"}},
                    &c)
                  .ok());
  EXPECT_TRUE(c.cluster.enabled());
  EXPECT_EQ(c.cluster.endpoints.size(), 2u);
  EXPECT_EQ(c.cluster.name, "geo-1");
  EXPECT_EQ(c.cluster.address, "pg-a:5432");
  EXPECT_EQ(c.cluster.lease_ttl_seconds, 5);
  EXPECT_EQ(c.cluster.max_lag_bytes, 64 << 20);
}

TEST(ParseClusterConfig, EveryBadFormIsRefusedNamingItsVariable) {
  const Env base = {{"ETCD_ENDPOINTS", "http://e1:2379"}};
  struct Case {
    Env env;
    const char* variable;
  };
  for (const Case& k : std::vector<Case>{
           {{{"ETCD_ENDPOINTS", "e1:2379"}}, "ETCD_ENDPOINTS"},
           {{{"PGKEEPER_CLUSTER", "a/b"}}, "PGKEEPER_CLUSTER"},
           {{{"PGKEEPER_ADVERTISE_ADDRESS", "pg a:5432"}}, "PGKEEPER_ADVERTISE_ADDRESS"},
           {{{"PGKEEPER_ADVERTISE_ADDRESS", "pg:99999"}}, "PGKEEPER_ADVERTISE_ADDRESS"},
           {{{"PGKEEPER_LEASE_TTL", "1"}}, "PGKEEPER_LEASE_TTL"},
           {{{"PGKEEPER_LEASE_TTL", "3s"}}, "PGKEEPER_LEASE_TTL"},
           {{{"PGKEEPER_FAILOVER_MAX_LAG", "lots"}}, "PGKEEPER_FAILOVER_MAX_LAG"},
           {{{"REPLICATE_FROM", "pg-master"}}, "REPLICATE_FROM"},
           {{{"PROMOTE_MASTER", "True"}, {"REPLICATE_FROM", ""}}, "PROMOTE_MASTER"},
       }) {
    Env env = base;
    for (const auto& [key, value] : k.env) env[key] = value;
    Config c;
    Status st = Parse(env, &c);
    EXPECT_EQ(st.code(), ExitCode::kConfig) << k.variable;
    EXPECT_THAT(st.message(), HasSubstr(k.variable));
  }
}

TEST(ParseClusterConfig, ClusterSettingsWithoutEtcdAreRefused) {
  Config c;
  Status st = Parse({{"PGKEEPER_LEASE_TTL", "5"}}, &c);
  EXPECT_EQ(st.code(), ExitCode::kConfig);
  EXPECT_THAT(st.message(), HasSubstr("PGKEEPER_LEASE_TTL is set but ETCD_ENDPOINTS is not"));
}

TEST(DescribeCluster, NamesTheLeaderEachMemberAndThisNodesDecision) {
  ElectionFacts f;
  f.self = "n2";
  f.etcd_ok = true;
  f.leader = "n1";
  f.members = {Member("n1", 0x5000000, false), Member("n2", 0x4FFFF00, true)};
  ElectionDecision d{ElectionAction::kFollow, "n1", "replicate from the leader n1"};
  ClusterListing l;
  l.addresses = {{"n1", "pg-a:5432"}, {"n2", "pg-b:5432"}};
  l.timelines = {{"n1", 2}, {"n2", 2}};
  EXPECT_EQ(DescribeCluster(f, l, d),
            "leader n1; members: n1 at pg-a:5432 (WAL 0/5000000, timeline 2), n2 at pg-b:5432 "
            "(WAL 0/4FFFF00, timeline 2, lag 256 B, synchronous); this node: follow: replicate "
            "from the leader n1");
  l.last_failover = "at 10:00:00.000 UTC, n1 took over from n0 (...); promotion report: promoted";
  EXPECT_THAT(DescribeCluster(f, l, d),
              HasSubstr("; last failover: at 10:00:00.000 UTC, n1 took over from n0"));
  f.etcd_ok = false;
  EXPECT_THAT(DescribeCluster(f, {}, d), HasSubstr("etcd does not answer"));
}

// ---------------------------------------------------------------- BetweenLeaders

struct Settling {
  ElectionFacts f;
  LocalFacts local;
  ClusterListing l;
  ElectionDecision d{ElectionAction::kFollow, "n1", "replicate from the leader n1"};
  int64_t since_ms = 500;
  Settling() {
    f.self = "n2";
    f.etcd_ok = true;
    f.leader = "n1";
    l.addresses = {{"n1", "pg-a:5432"}, {"n2", "pg-b:5432"}};
    l.writable = {{"n1", true}};
    local.upstream = "pg-a:5432";
  }
  bool fast() const { return BetweenLeaders(f, local, l, d, since_ms); }
};

TEST(BetweenLeaders, FastWhileNoNodeLeadsOrASwitchoverIsAsked) {
  Settling s;
  s.since_ms = 60000;
  EXPECT_FALSE(s.fast()) << "a settled replicant of a settled leader";
  s.f.leader = "";
  EXPECT_TRUE(s.fast());
  s.f.leader = "n1";
  s.f.switchover_from = "n1";
  EXPECT_TRUE(s.fast());
  s.f.etcd_ok = false;
  EXPECT_FALSE(s.fast()) << "etcd does not answer: reading it faster does not help";
}

TEST(BetweenLeaders, ANewLeaderUntilItTakesWrites) {
  Settling s;
  s.f.self = "n1";
  s.d = ElectionDecision{ElectionAction::kPromote, "", "promote"};
  EXPECT_TRUE(s.fast());
  s.local.writable = true;
  EXPECT_FALSE(s.fast());
}

TEST(BetweenLeaders, AReplicantUntilItFollowsTheWritableLeader) {
  Settling s;
  EXPECT_FALSE(s.fast()) << "follows the writable leader already";
  s.l.writable["n1"] = false;
  EXPECT_TRUE(s.fast()) << "the leader does not take writes yet";
  s.l.writable["n1"] = true;
  s.local.upstream = "pg-c:5432";
  EXPECT_TRUE(s.fast()) << "still follows the old master";
  s.d = ElectionDecision{ElectionAction::kFollow, "n3", "cascade from n3"};
  EXPECT_FALSE(s.fast()) << "a cascading replicant follows n3, not the leader";
}

TEST(BetweenLeaders, NeverLongerThanTheSettlingTime) {
  Settling s;
  s.l.writable["n1"] = false;
  s.since_ms = kSettleMs + 1;
  EXPECT_FALSE(s.fast());
}

TEST(AwaitsHandOver, OnlyTheTargetOnceTheOldLeaderStoppedTakingWrites) {
  ElectionFacts f;
  f.self = "n2";
  f.etcd_ok = true;
  f.leader = "n1";
  f.members = {Member("n1", 1000, false, true), Member("n2", 900), Member("n3", 900)};
  EXPECT_FALSE(AwaitsHandOver(f)) << "no switchover";
  f.switchover_from = "n1";
  f.switchover_to = "n2";
  EXPECT_FALSE(AwaitsHandOver(f)) << "the old leader still takes writes";
  f.members[0].writable = false;
  EXPECT_TRUE(AwaitsHandOver(f)) << "it stopped: the key comes free any moment";
  f.members.erase(f.members.begin());
  EXPECT_TRUE(AwaitsHandOver(f)) << "its record lapsed";
  f.leader = "";
  EXPECT_TRUE(AwaitsHandOver(f)) << "the key is free: this node takes it once it has everything";
  f.leader = "n2";
  EXPECT_FALSE(AwaitsHandOver(f)) << "taken";
  f.leader = "";
  f.self = "n3";
  EXPECT_FALSE(AwaitsHandOver(f)) << "not the target";
  f.self = "n2";
  f.etcd_ok = false;
  EXPECT_FALSE(AwaitsHandOver(f)) << "etcd does not answer";
}

}  // namespace
}  // namespace pgkeeper

// The record `pgkeeper follow` leaves, and which upstream a replicant
// follows at start (its argument is a HostPort: values_test.cc).
#include "postgresql/follow.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;

TEST(FollowRecord, RoundTrips) {
  for (const FollowRecord& r : {FollowRecord{{"pg-a", 5432}, {"pg-master", 5432}, "2026-12-03 09:00:00 UTC"},
                                FollowRecord{{"fd00::7", 6000}, {"10.0.0.2", 7777}, ""}}) {
    FollowRecord back;
    ASSERT_TRUE(ParseFollowRecord(RenderFollowRecord(r), &back));
    EXPECT_EQ(back.upstream, r.upstream);
    EXPECT_EQ(back.env, r.env);
    EXPECT_EQ(back.since, r.since);
  }
  FollowRecord r;
  EXPECT_FALSE(ParseFollowRecord("host=pg-a\n", &r));
  EXPECT_FALSE(ParseFollowRecord("host=pg a\nport=1\nenv_host=x\nenv_port=2\n", &r));
}

Config Replicant(const std::string& host, int port) {
  Config c;
  c.replicate_from = host;
  c.replicate_port = port;
  return c;
}

TEST(ChooseUpstream, WithoutARecordItIsReplicateFrom) {
  UpstreamChoice c = ChooseUpstream(Replicant("pg-master", 5432), std::nullopt);
  EXPECT_EQ(c.upstream, (Upstream{"pg-master", 5432}));
  EXPECT_EQ(c.reason, "");
}

TEST(ChooseUpstream, ARecordMadeUnderTheSameReplicateFromIsFollowed) {
  FollowRecord r{{"pg-a", 5432}, {"pg-master", 5432}, "2026-12-03 09:00:00 UTC"};
  UpstreamChoice c = ChooseUpstream(Replicant("pg-master", 5432), r);
  EXPECT_EQ(c.upstream, (Upstream{"pg-a", 5432}));
  EXPECT_TRUE(c.keep_record);
  EXPECT_EQ(c.reason,
            "following pg-a:5432 as `pgkeeper follow` asked at 2026-12-03 09:00:00 UTC; "
            "REPLICATE_FROM still names pg-master:5432 (change it to end this)");
}

TEST(ChooseUpstream, AChangedReplicateFromOrPortEndsTheRecord) {
  FollowRecord r{{"pg-a", 5432}, {"pg-master", 5432}, ""};
  for (const Config& cfg : {Replicant("pg-b", 5432), Replicant("pg-master", 5433)}) {
    UpstreamChoice c = ChooseUpstream(cfg, r);
    EXPECT_EQ(c.upstream, (Upstream{cfg.replicate_from, cfg.replicate_port}));
    EXPECT_FALSE(c.keep_record);
    EXPECT_THAT(c.reason, HasSubstr("REPLICATE_FROM changed from pg-master:5432"));
    EXPECT_THAT(c.reason, HasSubstr("so that choice is dropped"));
  }
}

}  // namespace
}  // namespace pgkeeper

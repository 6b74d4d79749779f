#include "postgresql/hba_refusal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;

TEST(ParseHbaRefusal, AReplicationConnectionFromAnAddressNotAllowed) {
  auto r = ParseHbaRefusal(
      "2026-12-04 16:40:00.000 UTC [812] FATAL:  no pg_hba.conf entry for replication connection "
      "from host \"172.18.0.1\", user \"docker\", SSL encryption");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->host, "172.18.0.1");
  EXPECT_EQ(r->user, "docker");
  EXPECT_TRUE(r->replication);
  EXPECT_FALSE(r->without_tls);
  EXPECT_EQ(r->database, "");
}

TEST(ParseHbaRefusal, AnOrdinaryConnectionAndAForcedTlsRejection) {
  auto r = ParseHbaRefusal(
      "FATAL:  no pg_hba.conf entry for host \"10.1.2.3\", user \"app\", database \"gis\", no "
      "encryption");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->database, "gis");
  EXPECT_FALSE(r->replication);
  EXPECT_FALSE(r->without_tls) << "no line at all, not the reject line";
  r = ParseHbaRefusal(
      "FATAL:  pg_hba.conf rejects replication connection for host \"10.1.2.3\", user \"docker\", "
      "no encryption");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->replication);
  EXPECT_TRUE(r->without_tls);
}

TEST(ParseHbaRefusal, OtherLinesAreNotRefusals) {
  EXPECT_FALSE(ParseHbaRefusal("LOG:  database system is ready to accept connections"));
  EXPECT_FALSE(ParseHbaRefusal("FATAL:  password authentication failed for user \"docker\""));
  EXPECT_FALSE(ParseHbaRefusal("FATAL:  no pg_hba.conf entry for user \"x\""));
}

TEST(ParseHbaRefusal, AnUpstreamsRefusalAsTheClientToolsReportIt) {
  // pg_basebackup and the slot check, through libpq (one line per address
  // tried, joined by pgkeeper's log).
  auto r = ParseHbaRefusal(
      "cannot prepare the replication slot: cannot connect to PostgreSQL: connection to server at "
      "\"172.31.72.1\", port 17777 failed: FATAL:  no pg_hba.conf entry for replication "
      "connection from host \"172.31.71.1\", user \"u\", SSL encryption connection to server at "
      "\"172.31.72.1\", port 17777 failed: FATAL:  no pg_hba.conf entry for replication "
      "connection from host \"172.31.71.1\", user \"u\", no encryption");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->upstream);
  EXPECT_EQ(r->host, "172.31.71.1");
  EXPECT_TRUE(r->replication);
  // The walreceiver, in the replicant's postgres log.
  r = ParseHbaRefusal(
      "2026-12-04 18:40:00.000 UTC [90] FATAL:  could not connect to the primary server: "
      "connection to server at \"10.0.0.5\", port 7777 failed: FATAL:  no pg_hba.conf entry for "
      "replication connection from host \"10.0.0.9\", user \"docker\", SSL encryption");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->upstream);
  EXPECT_EQ(r->host, "10.0.0.9");
  // A server's own line is not.
  r = ParseHbaRefusal("FATAL:  no pg_hba.conf entry for host \"10.1.2.3\", user \"app\", "
                      "database \"gis\", no encryption");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->upstream);
}

TEST(DescribeUpstreamRefusal, NamesTheAddressTheMasterSawAndWhereToAddIt) {
  HbaRefusal r{"172.31.71.1", "docker", "", true, false, true};
  std::string s = DescribeUpstreamRefusal(r, "172.31.72.1:17777");
  EXPECT_THAT(s, HasSubstr("the master 172.31.72.1:17777 refused this node's replication "
                           "connection (user docker)"));
  EXPECT_THAT(s, HasSubstr("coming from 172.31.71.1"));
  EXPECT_THAT(s, HasSubstr("on the master, add 172.31.71.1/32 to ALLOW_IP_RANGE"));
  r.without_tls = true;
  EXPECT_THAT(DescribeUpstreamRefusal(r, "m:5432"), HasSubstr("did not use TLS (FORCE_SSL=True"));
}

TEST(DescribeRefusal, NamesTheAddressSeenAndTheOneLineFix) {
  HbaRefusal r{"172.18.0.1", "docker", "", true, false};
  std::string s = DescribeRefusal(r, "10.0.0.0/8", {"10.0.0.0/8"});
  EXPECT_THAT(s, HasSubstr("refused a replication connection from 172.18.0.1 (user docker)"));
  EXPECT_THAT(s, HasSubstr("not in ALLOW_IP_RANGE (10.0.0.0/8)"));
  EXPECT_THAT(s, HasSubstr("set ALLOW_IP_RANGE=10.0.0.0/8,172.18.0.1/32"));
  s = DescribeRefusal(r, "", {"172.20.0.0/16"});
  EXPECT_THAT(s, HasSubstr("unset, so this node's own networks: 172.20.0.0/16"));
  EXPECT_THAT(s, HasSubstr("ALLOW_IP_RANGE=172.20.0.0/16,172.18.0.1/32"));
  r.without_tls = true;
  EXPECT_THAT(DescribeRefusal(r, "", {}), HasSubstr("does not use TLS and FORCE_SSL=True"));
  HbaRefusal v6{"fd00::5", "docker", "gis", false, false};
  EXPECT_THAT(DescribeRefusal(v6, "10.0.0.0/8", {}), HasSubstr("fd00::5/128"));
}

}  // namespace
}  // namespace pgkeeper

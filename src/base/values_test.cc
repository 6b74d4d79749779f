// The value parsers every variable, argument and record goes through.
#include "base/values.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Trim, WhitespaceOffBothEnds) {
  EXPECT_EQ(Trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(Trim(" \n "), "");
  EXPECT_EQ(Trim(""), "");
}

TEST(SplitList, CommaItemsTrimmedWithoutEmptyOnes) {
  EXPECT_THAT(SplitList(" gis, ,postgis ,, x"), ElementsAre("gis", "postgis", "x"));
  EXPECT_TRUE(SplitList(" , ").empty());
}

TEST(JoinList, TheOtherWayRound) {
  EXPECT_EQ(JoinList({"a", "b"}), "a, b");
  EXPECT_EQ(JoinList({}, "none"), "none");
}

TEST(IsListed, ComparesAsPostgresDoesIgnoringCase) {
  EXPECT_TRUE(IsListed("PG_Replicant", {"a", "pg_replicant"}));
  EXPECT_FALSE(IsListed("pg_replicant2", {"pg_replicant"}));
  EXPECT_FALSE(IsListed("a", {}));
}

HostPort Parse(const std::string& text, int default_port = 5432) {
  HostPort u;
  Status st = ParseHostPort(text, default_port, &u);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return u;
}

// Moved from follow_test.cc (ParseUpstream), assertions unchanged.
TEST(ParseHostPort, TakesAHostWithOrWithoutAPort) {
  EXPECT_EQ(Parse("pg-replicant-1"), (HostPort{"pg-replicant-1", 5432}));
  EXPECT_EQ(Parse("pg-replicant-1", 6000), (HostPort{"pg-replicant-1", 6000}));
  EXPECT_EQ(Parse("10.0.0.7:7777"), (HostPort{"10.0.0.7", 7777}));
  EXPECT_EQ(Parse("[fd00::7]:7777"), (HostPort{"fd00::7", 7777}));
  EXPECT_EQ(Parse("[fd00::7]"), (HostPort{"fd00::7", 5432}));
}

TEST(ParseHostPort, RefusesWhatIsNotAHostAndPortWithAUsageError) {
  for (const char* bad : {"", "pg master", "host:0", "host:70000", "host:x", "fd00::7:5432",
                          "[fd00::7", "[fd00::7]5432", "host;rm:5432", "fd00::1", "host:",
                          "[fd00::7]:", ":5432"}) {
    HostPort u;
    Status st = ParseHostPort(bad, 5432, &u);
    EXPECT_EQ(st.code(), ExitCode::kUsage) << bad;
    EXPECT_THAT(st.message(), HasSubstr("expected HOST, HOST:PORT or [IPV6]:PORT")) << bad;
  }
}

TEST(ParseHostPort, ABareIpv6AddressIsAskedForInBrackets) {
  HostPort u;
  EXPECT_THAT(ParseHostPort("fd00::1", 5432, &u).message(), HasSubstr("write an IPv6 address in []"));
}

TEST(HostPortName, BracketsIpv6) {
  EXPECT_EQ((HostPort{"pg-a", 5432}).Name(), "pg-a:5432");
  EXPECT_EQ((HostPort{"fd00::7", 5432}).Name(), "[fd00::7]:5432");
}

TEST(IsValidHost, NamesAndAddressesWithoutBrackets) {
  for (const char* ok : {"pg-master", "10.0.0.2", "fd00::1", "node_1.example.com"}) {
    EXPECT_TRUE(IsValidHost(ok)) << ok;
  }
  for (const char* bad : {"", "pg master", "[fd00::1]", "a;b", "a/b"}) {
    EXPECT_FALSE(IsValidHost(bad)) << bad;
  }
  EXPECT_FALSE(IsValidHost(std::string(254, 'a')));
}

}  // namespace
}  // namespace pgkeeper

#include "cluster/etcd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

TEST(ParseEtcdEndpoints, TakesACommaSeparatedListOfClientUrls) {
  std::vector<std::string> e;
  ASSERT_TRUE(ParseEtcdEndpoints("http://etcd1:2379, http://etcd2:2379/,https://10.0.0.3:2379", &e)
                  .ok());
  EXPECT_EQ(e, (std::vector<std::string>{"http://etcd1:2379", "http://etcd2:2379",
                                         "https://10.0.0.3:2379"}));
  ASSERT_TRUE(ParseEtcdEndpoints("http://[fd00::5]:2379", &e).ok()) << "IPv6, as everywhere";
}

TEST(ParseEtcdEndpoints, EveryBadFormIsRefusedNamingTheVariable) {
  std::vector<std::string> e;
  for (const char* bad : {"etcd1:2379", "http://etcd1", "http://etcd1:port", "http://:2379",
                          "http://etcd1:70000", "http://etcd1:2379/v3", "ftp://etcd1:2379", "",
                          "http://fd00::5:2379"}) {
    Status st = ParseEtcdEndpoints(bad, &e);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.code(), ExitCode::kConfig) << bad;
    EXPECT_THAT(st.message(), HasSubstr("ETCD_ENDPOINTS")) << bad;
  }
}

TEST(Base64, RoundTripsEveryLengthAndRefusesNonsense) {
  for (const std::string raw : {"", "a", "ab", "abc", "abcd", "/pgkeeper/c1/leader"}) {
    std::string back;
    ASSERT_TRUE(etcd::Base64Decode(etcd::Base64Encode(raw), &back)) << raw;
    EXPECT_EQ(back, raw);
  }
  EXPECT_EQ(etcd::Base64Encode("foo"), "Zm9v");
  std::string out;
  EXPECT_FALSE(etcd::Base64Decode("Zm9", &out));
  EXPECT_FALSE(etcd::Base64Decode("Zm9*", &out));
}

TEST(PrefixEnd, IsThePrefixWithItsLastByteIncremented) {
  EXPECT_EQ(etcd::PrefixEnd("/pgk/"), "/pgk0");
  EXPECT_EQ(etcd::PrefixEnd(std::string("a\xff", 2)), "b");
}

TEST(Bodies, TheLeaderKeyIsCreatedOnlyWhenAbsentAndTiedToTheLease) {
  json j = json::parse(etcd::CreateIfAbsentBody("/pgk/c1/leader", "node1", 42));
  EXPECT_EQ(j["compare"][0]["target"], "CREATE");
  EXPECT_EQ(j["compare"][0]["create_revision"], "0");
  EXPECT_EQ(j["success"][0]["request_put"]["lease"], "42");
  EXPECT_EQ(j["success"][0]["request_put"]["value"], etcd::Base64Encode("node1"));
  EXPECT_TRUE(j["failure"][0].contains("request_range"));
  j = json::parse(etcd::DeleteIfBody("/k", "node1"));
  EXPECT_EQ(j["compare"][0]["target"], "VALUE");
  EXPECT_EQ(j["compare"][0]["value"], etcd::Base64Encode("node1"));
  EXPECT_TRUE(j["success"][0].contains("request_delete_range"));
  j = json::parse(etcd::DeleteIfBody("/k", "node1", {{"/optime", "123"}}));
  EXPECT_EQ(j["success"][0]["request_put"]["key"], etcd::Base64Encode("/optime"));
  EXPECT_EQ(j["success"][0]["request_put"]["value"], etcd::Base64Encode("123"));
  EXPECT_FALSE(j["success"][0]["request_put"].contains("lease"));
  EXPECT_TRUE(j["success"][1].contains("request_delete_range"));
  j = json::parse(etcd::RangeBody("/pgk/", true));
  EXPECT_EQ(j["range_end"], etcd::Base64Encode("/pgk0"));
  EXPECT_EQ(json::parse(etcd::GrantBody(10))["TTL"], "10");
}

// Answers as etcd 3.4's gateway sends them (captured from etcd 3.4.23).
TEST(Answers, GrantKeepAliveAndAnExpiredLease) {
  int64_t lease = 0;
  int ttl = 0;
  ASSERT_TRUE(etcd::ParseGrant(R"({"header":{"revision":"1"},"ID":"4111120441162858501","TTL":"5"})",
                               &lease, &ttl)
                  .ok());
  EXPECT_EQ(lease, 4111120441162858501);
  EXPECT_EQ(ttl, 5);
  ASSERT_TRUE(etcd::ParseKeepAlive(R"({"result":{"header":{},"ID":"7","TTL":"5"}})", &ttl).ok());
  EXPECT_EQ(ttl, 5);
  ASSERT_TRUE(etcd::ParseKeepAlive(R"({"result":{"header":{},"ID":"123"}})", &ttl).ok());
  EXPECT_EQ(ttl, 0) << "a lease that is gone has no TTL in the answer";
}

TEST(Answers, ATxnThatFoundTheKeyTakenNamesItsHolder) {
  bool ok = true;
  std::vector<EtcdKv> kvs;
  ASSERT_TRUE(etcd::ParseTxn(
                  R"({"header":{"revision":"2"},"responses":[{"response_range":{"header":{},"kvs":[)"
                  R"({"key":"L3Bnay9sZWFkZXI=","create_revision":"2","mod_revision":"2",)"
                  R"("version":"1","value":"bm9kZTE=","lease":"4111120441162858503"}],"count":"1"}}]})",
                  &ok, &kvs)
                  .ok());
  EXPECT_FALSE(ok) << "succeeded is left out when false";
  ASSERT_EQ(kvs.size(), 1u);
  EXPECT_EQ(kvs[0].key, "/pgk/leader");
  EXPECT_EQ(kvs[0].value, "node1");
  EXPECT_EQ(kvs[0].lease, 4111120441162858503);
  ASSERT_TRUE(etcd::ParseTxn(R"({"header":{},"succeeded":true,"responses":[{"response_put":{}}]})",
                             &ok, &kvs)
                  .ok());
  EXPECT_TRUE(ok);
}

TEST(Answers, AnErrorAnswerBecomesAStatusWithEtcdsMessage) {
  int ttl = 0;
  Status st = etcd::ParseKeepAlive(
      R"({"error":"etcdserver: requested lease not found","code":5,"message":"etcdserver: requested lease not found"})",
      &ttl);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("requested lease not found"));
  std::vector<EtcdKv> kvs;
  EXPECT_FALSE(etcd::ParseRange("<html>", &kvs, nullptr).ok());
}

}  // namespace
}  // namespace pgkeeper

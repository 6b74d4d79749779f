// pgkeeper's etcd client against a real etcd (Debian's etcd-server, 3.4) on
// loopback: the leader key is created only when absent and tied to a lease,
// a second node finds it taken and learns the holder, the key disappears
// when the lease is not renewed, and a dead endpoint in ETCD_ENDPOINTS is
// passed over (issue 13).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <string>
#include <vector>

#include "cluster/etcd.h"
#include "harness.h"

namespace pgkeeper::testing {
namespace {

using std::chrono::milliseconds;

TEST(Etcd, TheLeaderKeyIsTakenOnceHeldUnderALeaseAndFreedWhenTheLeaseLapses) {
  Scratch scratch;
  EtcdServer server(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  EtcdClient a({server.url()}, 2000), b({server.url()}, 2000);
  const std::string key = "/pgkeeper/c1/leader";

  int64_t lease_a = 0, lease_b = 0;
  int ttl = 0;
  ASSERT_TRUE(a.Grant(2, &lease_a, &ttl).ok());
  EXPECT_EQ(ttl, 2);
  bool created = false;
  EtcdKv holder;
  ASSERT_TRUE(a.CreateIfAbsent(key, "node-a", lease_a, &created, &holder).ok());
  EXPECT_TRUE(created);

  ASSERT_TRUE(b.Grant(2, &lease_b, &ttl).ok());
  ASSERT_TRUE(b.CreateIfAbsent(key, "node-b", lease_b, &created, &holder).ok());
  EXPECT_FALSE(created) << "a second node must not take a held key";
  EXPECT_EQ(holder.value, "node-a");
  EXPECT_EQ(holder.lease, lease_a);

  // Renewed, the key stays past its TTL.
  auto until = std::chrono::steady_clock::now() + milliseconds(3000);
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(a.KeepAlive(lease_a, &ttl).ok());
    EXPECT_GT(ttl, 0);
    std::this_thread::sleep_for(milliseconds(500));
  }
  std::vector<EtcdKv> kvs;
  ASSERT_TRUE(b.Get(key, &kvs).ok());
  ASSERT_EQ(kvs.size(), 1u);
  EXPECT_EQ(kvs[0].value, "node-a");

  // Not renewed, it goes with the lease, and b can take it.
  EXPECT_TRUE(WaitFor([&] { return b.Get(key, &kvs).ok() && kvs.empty(); }, seconds(10)))
      << "the key outlived its lease";
  ASSERT_TRUE(a.KeepAlive(lease_a, &ttl).ok());
  EXPECT_EQ(ttl, 0) << "the lapsed lease reads as gone";
  ASSERT_TRUE(b.KeepAlive(lease_b, &ttl).ok());  // b's own lease may have lapsed too
  if (ttl == 0) {
    ASSERT_TRUE(b.Grant(5, &lease_b, &ttl).ok());
  }
  ASSERT_TRUE(b.CreateIfAbsent(key, "node-b", lease_b, &created, &holder).ok());
  EXPECT_TRUE(created);

  // Only the holder's value deletes or replaces it.
  bool done = true;
  ASSERT_TRUE(a.DeleteIf(key, "node-a", &done).ok());
  EXPECT_FALSE(done);
  ASSERT_TRUE(b.ReplaceIf(key, "node-b", "node-b2", lease_b, &done).ok());
  EXPECT_TRUE(done);
  ASSERT_TRUE(b.Put("/pgkeeper/c1/members/node-b", "{}").ok());
  ASSERT_TRUE(b.GetPrefix("/pgkeeper/c1/", &kvs).ok());
  EXPECT_EQ(kvs.size(), 2u);
  ASSERT_TRUE(b.DeleteIf(key, "node-b2", &done).ok());
  EXPECT_TRUE(done);
  ASSERT_TRUE(b.Revoke(lease_b).ok());
}

TEST(Etcd, ADeadEndpointIsPassedOverAndNoneAnsweringNamesEach) {
  Scratch scratch;
  EtcdServer server(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const std::string dead = "http://127.0.0.1:" + std::to_string(FreePort());
  EtcdClient c({dead, server.url()}, 1000);
  int64_t lease = 0;
  int ttl = 0;
  ASSERT_TRUE(c.Grant(3, &lease, &ttl).ok());
  server.Stop();
  Status st = c.KeepAlive(lease, &ttl);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(dead), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(server.url()), std::string::npos) << st.message();
}

}  // namespace
}  // namespace pgkeeper::testing

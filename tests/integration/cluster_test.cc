// Cluster mode with a real etcd (Debian's etcd-server) and real PostgreSQL on
// loopback (issue 13): the first node initialises the cluster and takes the
// leader key, the next clones it and follows; when the master dies, the
// replicant takes the key and promotes by itself; the old master, started
// again, rejoins the new one; a master cut from etcd fences itself before
// its lease can lapse; a master killed and started again at once keeps the
// key; in strict synchronous mode a synchronous replicant takes over, and a
// switchover's third node follows the target before it promotes.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd.h"
#include "harness.h"

namespace pgkeeper::testing {
namespace {

// A node of cluster c1, advertised at its loopback port.
void JoinCluster(Node& node, const EtcdServer& etcd) {
  node.SetEnv("ETCD_ENDPOINTS", etcd.url());
  node.SetEnv("PGKEEPER_CLUSTER", "c1");
  node.SetEnv("PGKEEPER_ADVERTISE_ADDRESS", "127.0.0.1:" + std::to_string(node.port()));
}

// The API's credential (PGKEEPER_API_PASSWORD; the user is the default,
// pgkeeper).
constexpr char kApiPassword[] = "api-Pa55word-plugh";

// POST path on node's HTTP API, with HTTP Basic as user pgkeeper when
// password is not empty; returns the status code (0: no answer).
int Post(const Node& node, const std::string& path, const std::string& password,
         std::string* body) {
  httplib::Client client("127.0.0.1", node.api_port());
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(45, 0);  // a switchover is waited for up to 30 s
  if (!password.empty()) client.set_basic_auth("pgkeeper", password);
  httplib::Result res = client.Post(path.c_str());
  if (!res) return 0;
  *body = res->body;
  return res->status;
}

// SQL that counts the rows of w whose id is one of ids.
std::string CountOf(const std::vector<int>& ids) {
  std::string list;
  for (int id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  return "SELECT count(*) FROM w WHERE id IN (" + list + ")";
}

// The key cluster c1 keeps leaf under (empty value when there is none).
EtcdKv KeyOf(const EtcdServer& etcd, const std::string& leaf) {
  EtcdClient c({etcd.url()}, 1000);
  std::vector<EtcdKv> kvs;
  if (!c.Get("/pgkeeper/c1/" + leaf, &kvs).ok() || kvs.empty()) return EtcdKv();
  return kvs[0];
}

std::string Leader(const EtcdServer& etcd) { return KeyOf(etcd, "leader").value; }

// Whether etcd still keeps lease (asked without renewing it).
bool LeaseAlive(const EtcdServer& etcd, int64_t lease) {
  EtcdClient c({etcd.url()}, 1000);
  std::string answer;
  if (!c.Post("/v3/lease/timetolive", "{\"ID\":\"" + std::to_string(lease) + "\"}", &answer).ok()) {
    return true;  // unknown: not gone as far as the test can tell
  }
  nlohmann::json j = nlohmann::json::parse(answer, nullptr, false);
  if (!j.is_object() || !j.contains("TTL")) return true;
  const nlohmann::json& ttl = j["TTL"];  // the gateway sends int64 as a string
  return (ttl.is_string() ? std::stoll(ttl.get<std::string>()) : ttl.get<int64_t>()) > 0;
}

// The postmaster's PID, from the first line of postmaster.pid; -1 if none.
pid_t PostmasterPid(const Node& node) {
  const std::string pidfile = ReadFile(node.pgdata() + "/postmaster.pid");
  return pidfile.empty() ? -1 : static_cast<pid_t>(std::stol(pidfile));
}

// True once pid is no process (or only a zombie left for its reaper).
bool Gone(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || stat.substr(paren + 2, 1) == "Z";
}

// SIGKILLs node's pgkeeper, as a container killed would be; its postgres
// goes down with it (the parent-death signal), without a checkpoint. Waits
// until that postmaster is gone, so that a start on the same data at once
// finds no postgres of the earlier run.
void KillNode(Node& node) {
  const pid_t postmaster = PostmasterPid(node);
  ASSERT_GT(postmaster, 0) << "no postmaster.pid in " << node.pgdata();
  node.Kill();
  ASSERT_TRUE(WaitFor([&] { return Gone(postmaster); }, seconds(10)))
      << "the postmaster (PID " << postmaster << ") outlived pgkeeper";
}

int64_t MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
      .count();
}

// A client writing one row of w at a time (ids 1, 2, ...) to whichever of
// nodes takes it, from its own thread until Stop: the acknowledged ids, and
// the longest time between two acknowledgements (read them after Stop).
class Writer {
 public:
  explicit Writer(std::vector<Node*> nodes)
      : nodes_(std::move(nodes)), thread_([this] { Run(); }) {}
  ~Writer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<int> acked;
  int64_t longest_pause_ms = 0;

 private:
  void Run() {
    auto last = std::chrono::steady_clock::now();
    for (int id = 1; !stop_; ++id) {
      for (Node* n : nodes_) {
        if (n->Query("INSERT INTO w VALUES (" + std::to_string(id) + ")") == "OK") {
          longest_pause_ms = std::max(longest_pause_ms, MsSince(last));
          last = std::chrono::steady_clock::now();
          acked.push_back(id);
          break;
        }
      }
    }
  }
  std::vector<Node*> nodes_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Three nodes of cluster c1 in strict synchronous mode (one synchronous
// replicant), started in order, with an empty table w on all of them.
void StartStrictThree(const EtcdServer& etcd, Node& n1, Node& n2, Node& n3) {
  for (Node* n : {&n1, &n2, &n3}) {
    JoinCluster(*n, etcd);
    n->SetEnv("SYNCHRONOUS_REPLICANTS", "1");
    n->SetEnv("SYNCHRONOUS_MODE", "strict");
  }
  StartInOrder(n1, {&n2, &n3});
  ASSERT_EQ(n1.Query("CREATE TABLE w (id int PRIMARY KEY)"), "OK");
  n2.WaitQuery("SELECT count(*) FROM w", "0");
  n3.WaitQuery("SELECT count(*) FROM w", "0");
}

// A command's output without its final newline, for a one-line message.
std::string Trimmed(const std::string& out) {
  return out.substr(0, out.find_last_not_of('\n') + 1);
}

TEST(Cluster, TheFirstNodeInitialisesTheNextFollowsAndTakesOverWhenTheMasterDies) {
  Scratch scratch;
  EtcdServer etcd(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  Node n1(scratch, "n1"), n2(scratch, "n2");
  JoinCluster(n1, etcd);
  JoinCluster(n2, etcd);
  n1.Start();
  n1.WaitHealthy();
  EXPECT_TRUE(n1.LogContains("cluster: bootstrap: no cluster yet")) << n1.Log();
  EXPECT_EQ(Leader(etcd), "n1");
  n2.Start();
  n2.WaitHealthy();
  EXPECT_TRUE(n2.LogContains("cluster: follow: replicate from the leader n1")) << n2.Log();
  ASSERT_EQ(n1.Query("CREATE TABLE acked AS SELECT 1 AS x"), "OK");
  n2.WaitQuery("SELECT count(*) FROM acked", "1");
  std::string status;
  EXPECT_TRUE(WaitFor(
      [&] {
        n2.Run("status", &status);
        return status.find("cluster     leader n1; members: n1 at 127.0.0.1:" +
                           std::to_string(n1.port())) != std::string::npos;
      },
      seconds(10)))
      << status;

  // The master dies with its container: nobody renews its lease.
  auto killed = std::chrono::steady_clock::now();
  n1.Kill();
  n2.WaitQuery("SELECT pg_is_in_recovery()", "f", seconds(30));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  killed)
                .count();
  std::cout << "[ measured ] n1 killed -> n2 writable in " << ms << " ms (lease ttl 3 s)\n";
  EXPECT_EQ(Leader(etcd), "n2");
  EXPECT_TRUE(n2.LogContains("cluster: take-over: no leader")) << n2.Log();
  EXPECT_TRUE(n2.LogContains("cluster: failover: this node took the leader key")) << n2.Log();
  ASSERT_EQ(n2.Query("INSERT INTO acked VALUES (2)"), "OK");
  std::string metrics;
  EXPECT_TRUE(WaitFor(
      [&] {
        return n2.Http("/metrics", &metrics) == 200 &&
               metrics.find("\npgkeeper_cluster_leader 1\n") != std::string::npos;
      },
      seconds(10)))
      << metrics;
  EXPECT_NE(metrics.find("\npgkeeper_cluster_takeovers_total 1\n"), std::string::npos) << metrics;

  // The old master comes back: it rejoins the new one.
  n1.Start();
  n1.WaitLog("decision: rejoin 127.0.0.1:" + std::to_string(n2.port()), seconds(60));
  n1.WaitQuery("SELECT count(*) FROM acked", "2", seconds(60));
  EXPECT_EQ(n1.Query("SELECT pg_is_in_recovery()"), "t");
  n1.Stop();
  n2.Stop();
}

TEST(Cluster, WithThreeNodesTheThirdFollowsTheNewMasterWithoutACopy) {
  Scratch scratch;
  EtcdServer etcd(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  Node n1(scratch, "n1"), n2(scratch, "n2"), n3(scratch, "n3");
  for (Node* n : {&n1, &n2, &n3}) JoinCluster(*n, etcd);
  StartInOrder(n1, {&n2, &n3});
  ASSERT_EQ(n1.Query("CREATE TABLE acked AS SELECT 1 AS x"), "OK");
  n2.WaitQuery("SELECT count(*) FROM acked", "1");
  n3.WaitQuery("SELECT count(*) FROM acked", "1");
  const size_t n2_before = n2.Log().size(), n3_before = n3.Log().size();

  n1.Kill();
  // One of the two takes over; the other follows it on its new timeline.
  std::string leader;
  ASSERT_TRUE(WaitFor(
      [&] {
        leader = Leader(etcd);
        return leader == "n2" || leader == "n3";
      },
      seconds(30)));
  Node& winner = leader == "n2" ? n2 : n3;
  Node& other = leader == "n2" ? n3 : n2;
  winner.WaitQuery("SELECT pg_is_in_recovery()", "f", seconds(30));
  ASSERT_EQ(winner.Query("INSERT INTO acked VALUES (2)"), "OK");
  other.WaitQuery("SELECT count(*) FROM acked", "2", seconds(60));
  EXPECT_EQ(other.Query("SELECT pg_is_in_recovery()"), "t");
  const size_t before = leader == "n2" ? n3_before : n2_before;
  EXPECT_EQ(other.Log().find("pg_basebackup", before), std::string::npos)
      << "following the new master must not take a copy:\n" << other.Log().substr(before);
  n2.Stop();
  n3.Stop();
}

TEST(Cluster, ASwitchoverHandsOverWithoutLosingAnAcknowledgedWrite) {
  Scratch scratch;
  EtcdServer etcd(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  Node n1(scratch, "n1"), n2(scratch, "n2");
  JoinCluster(n1, etcd);
  JoinCluster(n2, etcd);
  StartInOrder(n1, {&n2});
  ASSERT_EQ(n1.Query("CREATE TABLE w (id int PRIMARY KEY)"), "OK");
  n2.WaitQuery("SELECT count(*) FROM w", "0");

  // A client writes one row at a time to whichever node takes it.
  Writer writer({&n1, &n2});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // some writes before
  std::string out;
  int rc = n1.Run("switchover --to n2", &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ok: switched over from n1 to n2"), std::string::npos) << out;
  EXPECT_EQ(n1.Wait(seconds(30)), 4) << n1.Log();
  n2.WaitQuery("SELECT pg_is_in_recovery()", "f", seconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // some writes after
  writer.Stop();
  const std::vector<int>& acked = writer.acked;
  ASSERT_GT(acked.size(), 10u);
  std::cout << "[ measured ] switchover: " << Trimmed(out)
            << "; longest pause between acknowledged writes " << writer.longest_pause_ms
            << " ms; " << acked.size() << " writes acknowledged\n";
  EXPECT_EQ(n2.Query("SELECT count(*) FROM w"), std::to_string(acked.size()))
      << "an acknowledged write is missing on the new master";
  // Not a speed target (bench figure 13 measures it): a bound far above the
  // usual 0.3-1 s that a promotion sleeping out wal_retrieve_retry_interval
  // (5 s) after the old master's walsender left would cross.
  EXPECT_LT(writer.longest_pause_ms, 4000) << "the promotion waited for something";

  // The old master starts again and follows the new one.
  n1.Start();
  n1.WaitLog("cluster: follow: replicate from the leader n2", seconds(30));
  n1.WaitQuery("SELECT count(*) FROM w", std::to_string(acked.size()), seconds(60));
  n1.Stop();
  n2.Stop();
}

TEST(Cluster, TheApiSwitchesOverOnlyWithTheCredentialToTheNodeNamedOrTheBestOther) {
  Scratch scratch;
  EtcdServer etcd(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  Node n1(scratch, "n1"), n2(scratch, "n2"), n3(scratch, "n3");
  for (Node* n : {&n1, &n2, &n3}) {
    JoinCluster(*n, etcd);
    n->SetEnv("PGKEEPER_API_PASSWORD", kApiPassword);
  }
  StartInOrder(n1, {&n2, &n3});
  ASSERT_EQ(n1.Query("CREATE TABLE w (id int PRIMARY KEY)"), "OK");
  n2.WaitQuery("SELECT count(*) FROM w", "0");
  n3.WaitQuery("SELECT count(*) FROM w", "0");

  // A client writes one row at a time to whichever node takes it.
  Writer writer({&n1, &n2, &n3});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // some writes before

  // Any node takes the request (it goes through etcd), but only with the credential.
  std::string body;
  EXPECT_EQ(Post(n2, "/switchover?to=n3", "", &body), 401) << body;
  EXPECT_EQ(Post(n2, "/switchover?to=n3", "wrong-password", &body), 401) << body;
  EXPECT_EQ(Post(n2, "/switchover?to=nobody", kApiPassword, &body), 409) << body;
  EXPECT_NE(body.find("nobody is not a live member"), std::string::npos) << body;
  EXPECT_EQ(Leader(etcd), "n1");
  EXPECT_EQ(n1.Query("SELECT pg_is_in_recovery()"), "f") << "a refused request changed nothing";

  EXPECT_EQ(Post(n2, "/switchover?to=n3", kApiPassword, &body), 200) << body;
  EXPECT_NE(body.find("switched over from n1 to n3"), std::string::npos) << body;
  EXPECT_EQ(Leader(etcd), "n3");
  EXPECT_EQ(n1.Wait(seconds(30)), 4) << n1.Log();
  n3.WaitQuery("SELECT pg_is_in_recovery()", "f", seconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // some writes after
  writer.Stop();
  const std::vector<int>& acked = writer.acked;
  ASSERT_GT(acked.size(), 10u);
  std::cout << "[ measured ] POST /switchover?to=n3: " << body << "; " << acked.size()
            << " writes acknowledged\n";
  EXPECT_TRUE(n2.LogContains("HTTP API: POST /switchover switched over from n1 to n3")) << n2.Log();
  EXPECT_TRUE(n2.LogContains("a switchover to n3 was asked: replicate from it already"))
      << n2.Log();
  EXPECT_EQ(n3.Query(CountOf(acked)), std::to_string(acked.size()))
      << "an acknowledged write is missing on the new master";

  // The old master starts again and follows the new one, as n2 does.
  n1.Start();
  n1.WaitLog("cluster: follow: replicate from the leader n3", seconds(30));
  n1.WaitQuery(CountOf(acked), std::to_string(acked.size()), seconds(60));
  n2.WaitQuery(CountOf(acked), std::to_string(acked.size()), seconds(60));
  EXPECT_EQ(n1.Query("SELECT pg_is_in_recovery()"), "t");

  // Asked of the leader itself, without ?to: the best other member takes
  // over, and the answer comes before the old leader's pgkeeper exits.
  ASSERT_EQ(Post(n3, "/switchover", kApiPassword, &body), 200) << body;
  EXPECT_NE(body.find("switched over from n3 to n"), std::string::npos) << body;
  EXPECT_NE(body.find("was chosen: the most WAL of the other members"), std::string::npos) << body;
  const std::string leader = Leader(etcd);
  ASSERT_TRUE(leader == "n1" || leader == "n2") << leader;
  EXPECT_EQ(n3.Wait(seconds(30)), 4) << n3.Log();
  Node& winner = leader == "n1" ? n1 : n2;
  winner.WaitQuery("SELECT pg_is_in_recovery()", "f", seconds(10));
  EXPECT_EQ(winner.Query(CountOf(acked)), std::to_string(acked.size()));
  n1.Stop();
  n2.Stop();
}

TEST(Cluster, AMasterCutFromEtcdStopsTakingWritesBeforeItsLeaseCanLapse) {
  Scratch scratch;
  EtcdServer etcd(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  Node n1(scratch, "n1");
  JoinCluster(n1, etcd);
  n1.Start();
  n1.WaitHealthy();
  auto cut = std::chrono::steady_clock::now();
  etcd.Stop();
  n1.WaitLog("cluster: fence: no renewal of the lease acknowledged", seconds(10));
  auto fenced = std::chrono::steady_clock::now();
  EXPECT_EQ(n1.Wait(seconds(30)), 4) << n1.Log();
  auto now = std::chrono::steady_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - cut).count();
  auto exit_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - fenced).count();
  std::cout << "[ measured ] etcd gone -> n1 fenced and stopped in " << ms << " ms (fence seen -> "
            << "pgkeeper exited in " << exit_ms << " ms)\n";
  // Supervise checks every 5 s; postgres' exit must wake it, not the next check.
  EXPECT_LT(exit_ms, 4000) << n1.Log();
  EXPECT_NE(n1.Query("SELECT 1").rfind("ERROR", 0), std::string::npos)
      << "a fenced master must not answer";
}

// etcd keeps a lease after its holder dies, until its TTL runs out: a master
// killed and started again at once finds the key naming itself under the
// earlier run's lease. It must re-take the key under its own lease; else
// the key lapses one TTL after the kill and the master fences itself.
TEST(Cluster, AMasterKilledAndStartedAgainWithinTheTtlKeepsTheKeyUnderItsNewLease) {
  Scratch scratch;
  EtcdServer etcd(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  constexpr int kTtl = 6;  // s; long enough that the restart comes well within it
  Node n1(scratch, "n1"), n2(scratch, "n2");
  for (Node* n : {&n1, &n2}) {
    JoinCluster(*n, etcd);
    n->SetEnv("PGKEEPER_LEASE_TTL", std::to_string(kTtl));
  }
  StartInOrder(n1, {&n2});
  ASSERT_EQ(n1.Query("CREATE TABLE acked (x int)"), "OK");
  ASSERT_EQ(n1.Query("INSERT INTO acked VALUES (1)"), "OK");
  n2.WaitQuery("SELECT count(*) FROM acked", "1");
  const EtcdKv before = KeyOf(etcd, "leader");
  ASSERT_EQ(before.value, "n1");
  ASSERT_NE(before.lease, 0);

  const auto killed = std::chrono::steady_clock::now();
  KillNode(n1);
  ASSERT_TRUE(LeaseAlive(etcd, before.lease)) << "the restart must come within the TTL";
  const int64_t restart_ms = MsSince(killed);
  n1.Start();
  n1.WaitLog(
      "cluster: the leader key names this node but was held under an earlier run's lease; "
      "now held under this run's",
      seconds(kTtl));
  const int64_t adopted_ms = MsSince(killed);
  n1.WaitQuery("SELECT pg_is_in_recovery()", "f", seconds(30));
  const int64_t writable_ms = MsSince(killed);
  std::cout << "[ measured ] n1 killed -> started again in " << restart_ms
            << " ms -> key re-taken in " << adopted_ms << " ms -> writable in " << writable_ms
            << " ms (lease ttl " << kTtl << " s)\n";
  const EtcdKv after = KeyOf(etcd, "leader");
  EXPECT_EQ(after.value, "n1");
  EXPECT_NE(after.lease, before.lease) << "the key still hangs on the killed run's lease";

  // Two TTLs from the kill, and until the earlier run's lease is gone, n1
  // keeps the key and takes every write.
  int writes = 0;
  std::string last;
  const bool kept = WaitFor(
      [&] {
        if (Leader(etcd) != "n1" || !n1.Running()) return true;
        last = n1.Query("INSERT INTO acked VALUES (" + std::to_string(2 + writes) + ")");
        if (last != "OK") return true;
        ++writes;
        return MsSince(killed) >= 2000 * kTtl && !LeaseAlive(etcd, before.lease);
      },
      seconds(4 * kTtl));
  EXPECT_TRUE(kept && last == "OK" && Leader(etcd) == "n1" && n1.Running())
      << "n1 lost the key or its writes " << MsSince(killed) << " ms after the kill (leader '"
      << Leader(etcd) << "', last write: " << last << "); log:\n"
      << n1.Log();
  EXPECT_FALSE(LeaseAlive(etcd, before.lease));
  if (kept) {
    std::cout << "[ measured ] n1 still leads and takes writes " << MsSince(killed)
              << " ms after the kill (" << writes << " writes since it came back)\n";
  }
  EXPECT_FALSE(n1.LogContains("cluster: fence:")) << n1.Log();
  EXPECT_FALSE(n2.LogContains("cluster: failover:")) << n2.Log();
  n2.WaitQuery("SELECT count(*) FROM acked", std::to_string(1 + writes), seconds(30));
  EXPECT_EQ(n2.Query("SELECT pg_is_in_recovery()"), "t");
  n1.Stop();
  n2.Stop();
}

// In strict synchronous mode only a replicant the master counted as
// synchronous may take over; that list must outlive the master's lease.
TEST(Cluster, InStrictSynchronousModeASynchronousReplicantTakesOverWhenTheMasterDies) {
  Scratch scratch;
  EtcdServer etcd(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  Node n1(scratch, "n1"), n2(scratch, "n2"), n3(scratch, "n3");
  StartStrictThree(etcd, n1, n2, n3);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  // The master counts a replicant synchronous, says so in etcd (under a key
  // without a lease) and in every node's status.
  const std::string sync_sql =
      "SELECT string_agg(application_name, ',' ORDER BY application_name) FROM pg_stat_replication "
      "WHERE sync_state IN ('sync', 'quorum')";
  std::string on_master, status;
  ASSERT_TRUE(WaitFor(
      [&] {
        on_master = n1.Query(sync_sql);
        n2.Run("status", &status);
        return !on_master.empty() && on_master.rfind("ERROR", 0) != 0 &&
               KeyOf(etcd, "sync").value.size() > 2 &&
               status.find(", synchronous)") != std::string::npos;
      },
      seconds(30)))
      << "master: " << on_master << "; etcd: " << KeyOf(etcd, "sync").value << "; status:\n"
      << status;

  // A client writes one row at a time to the master until it dies.
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<int> acked;
  std::thread writer([&] {
    for (int id = 1; !stop; ++id) {
      if (n1.Query("INSERT INTO w VALUES (" + std::to_string(id) + ")") == "OK") {
        std::lock_guard<std::mutex> lock(mu);
        acked.push_back(id);
      }
    }
  });
  const bool wrote = WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return acked.size() >= 50;
      },
      seconds(30));
  const auto killed = std::chrono::steady_clock::now();
  KillNode(n1);
  stop = true;
  writer.join();
  ASSERT_TRUE(wrote) << "the master took too few writes: " << acked.size();
  nlohmann::json sync = nlohmann::json::parse(KeyOf(etcd, "sync").value, nullptr, false);
  ASSERT_TRUE(sync.is_array() && !sync.empty()) << sync.dump();

  // A synchronous one takes over; n1's member record lapses with its lease.
  std::string leader;
  const bool taken = WaitFor(
      [&] {
        leader = Leader(etcd);
        return leader == "n2" || leader == "n3";
      },
      seconds(20));
  ASSERT_TRUE(taken) << "nobody took over in 20 s; n2:\n" << n2.Log() << "\nn3:\n" << n3.Log();
  Node& winner = leader == "n2" ? n2 : n3;
  Node& other = leader == "n2" ? n3 : n2;
  winner.WaitQuery("SELECT pg_is_in_recovery()", "f", seconds(20));
  std::cout << "[ measured ] n1 killed -> " << leader << " writable in " << MsSince(killed)
            << " ms (lease ttl 3 s, strict synchronous mode; synchronous then: " << sync.dump()
            << "; " << acked.size() << " writes acknowledged)\n";
  EXPECT_NE(std::find(sync.begin(), sync.end(), leader), sync.end())
      << leader << " was not synchronous: " << sync.dump();
  EXPECT_TRUE(winner.LogContains("cluster: failover: this node took the leader key"))
      << winner.Log();
  EXPECT_EQ(winner.Query(CountOf(acked)), std::to_string(acked.size()))
      << "an acknowledged write is missing on the new master";

  // The other follows it, and is its synchronous replicant in turn: only
  // then does a commit return.
  other.WaitLog("cluster: follow: replicate from the leader " + leader, seconds(30));
  winner.WaitQuery(sync_sql, leader == "n2" ? "n3" : "n2", seconds(60));
  ASSERT_EQ(winner.Query("INSERT INTO w VALUES (0)"), "OK");
  acked.push_back(0);
  other.WaitQuery(CountOf(acked), std::to_string(acked.size()), seconds(30));
  EXPECT_EQ(other.Query("SELECT pg_is_in_recovery()"), "t");
  n2.Stop();
  n3.Stop();
}

TEST(Cluster, InStrictSynchronousModeASwitchoverFindsTheThirdNodeStreamingFromTheTargetAlready) {
  Scratch scratch;
  EtcdServer etcd(scratch);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  Node n1(scratch, "n1"), n2(scratch, "n2"), n3(scratch, "n3");
  StartStrictThree(etcd, n1, n2, n3);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  // A client writes one row at a time to whichever node takes it.
  Writer writer({&n1, &n2, &n3});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // some writes before
  std::string out;
  EXPECT_EQ(n3.Run("switchover --to n2", &out), 0) << out;
  EXPECT_EQ(n1.Wait(seconds(30)), 4) << n1.Log();
  n2.WaitQuery("SELECT pg_is_in_recovery()", "f", seconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // some writes after
  writer.Stop();
  const std::vector<int>& acked = writer.acked;
  ASSERT_GT(acked.size(), 10u);
  std::cout << "[ measured ] strict synchronous switchover, three nodes: " << Trimmed(out)
            << "; longest pause between acknowledged writes " << writer.longest_pause_ms
            << " ms\n";
  EXPECT_EQ(n2.Query(CountOf(acked)), std::to_string(acked.size()))
      << "an acknowledged write is missing on the new master";
  EXPECT_LT(writer.longest_pause_ms, 4000) << "the first commit waited for something";

  // n3 went over to n2 while n2 was still a replicant (it relayed), and
  // stayed on the same upstream when n2 promoted: one repointing only.
  EXPECT_TRUE(n3.LogContains("a switchover to n2 was asked: replicate from it already"))
      << n3.Log();
  const std::string log = n3.Log();
  const std::string followed = "now following 127.0.0.1:" + std::to_string(n2.port());
  EXPECT_NE(log.find(followed), std::string::npos) << log;
  EXPECT_EQ(log.find(followed), log.rfind(followed)) << log;
  EXPECT_EQ(log.find("now following", log.find(followed) + 1), std::string::npos) << log;
  n3.WaitQuery(CountOf(acked), std::to_string(acked.size()), seconds(30));
  n2.Stop();
  n3.Stop();
}

}  // namespace
}  // namespace pgkeeper::testing

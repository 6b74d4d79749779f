// Cluster mode (issue 13): with ETCD_ENDPOINTS, etcd's leader key decides
// which node is the master. This is the thin layer around election.h's pure
// decision: it keeps this node's lease, publishes its position, reads the
// others', and turns decisions into the seed's own settings at start
// (REPLICATE_FROM, PROMOTE_MASTER, ALLOW_REJOIN) and into the supervisor's
// existing actions later (fence, promote, follow).
//
// Keys, under /pgkeeper/<PGKEEPER_CLUSTER>/:
//   leader          the master's name, under its lease
//   initialized     set once by the first node after its initdb
//   members/<name>  {"address", "lsn", "writable", "sync", "timeline", "upstream",
//                   "streaming_from"} under each lease
//   optime          the leader's last WAL position (no lease: it outlives it)
//   sync            the leader's synchronous replicants (no lease, likewise)
//   failover        the last failover and its promotion report
//   switchover      a switchover request {"from", "to"}, under its own lease
#ifndef PGKEEPER_CLUSTER_H_
#define PGKEEPER_CLUSTER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "cluster/election.h"
#include "cluster/etcd.h"
#include "base/status.h"

namespace pgkeeper {

// Reads ETCD_ENDPOINTS, PGKEEPER_CLUSTER, PGKEEPER_ADVERTISE_ADDRESS,
// PGKEEPER_LEASE_TTL and PGKEEPER_FAILOVER_MAX_LAG; refuses REPLICATE_FROM
// and PROMOTE_MASTER beside ETCD_ENDPOINTS (c holds the rest, parsed).
Status ParseClusterConfig(const Env& env, const Config& c, ClusterConfig* out);

// `pgkeeper switchover [--to NODE]`: asks the leader to hand over (to NODE,
// or to the best other member), waits until another node leads, and says
// who and how long it took.
int RunSwitchover(const Env& env, const std::vector<std::string>& args);
// The same, for the command and the HTTP API's POST /switchover[?to=NODE]:
// *said gets the outcome's sentence.
Status Switchover(const ClusterConfig& cc, const std::string& to, std::string* said);

// What one loop of the running node sees of itself.
struct LocalFacts {
  bool postgres_up = false;
  bool writable = false;
  bool standby = false;            // a running replicant (what a promotion needs)
  int64_t lsn = 0;                 // written (master) or received (replicant)
  std::vector<std::string> sync;   // master: the replicants a commit waits for
  std::string upstream;            // replicant: host:port it follows now
  std::string streaming_from;      // replicant: host:port it streams from now ("": none)
  int timeline = 0;
  std::string promotion;           // this run's promotion report, once promoted
};

// Why the agent stopped postgres: fenced (cut from etcd, or another node
// leads), or stepped down for a switchover, which also publishes the final
// WAL position before the key goes.
enum class StopReason { kNone, kFenced, kSteppedDown };

// What the running node is asked to do (from the agent's thread).
struct ClusterHooks {
  // fresh: looked at now, not up to a second ago (while leaders change).
  std::function<LocalFacts(bool fresh)> facts;
  // Fence or step down: stop postgres now (a fast shutdown, which lets the
  // walsenders send everything first), then exit.
  std::function<void(StopReason reason, const std::string& why)> stop;
  std::function<void(const std::string& why)> promote;  // this node holds the key
  std::function<void(const std::string& address)> follow;
  // For status and metrics: DescribeCluster's line, whether this node holds
  // the key, and how many times this run took it over.
  std::function<void(const std::string& view, bool leader, int takeovers)> report;
};

struct Node;
class ClusterAgent;

// At `pgkeeper run` in cluster mode: makes the agent, reads this node's data
// directory and position, and waits for the cluster's answer, which it
// writes into n->config (see DecideStart).
Status StartCluster(Node* n, std::unique_ptr<ClusterAgent>* agent, bool* bootstrap);

// What etcd holds beyond the election's facts, for status: each member's
// address and timeline, and the last failover as its new master put it.
struct ClusterListing {
  std::map<std::string, std::string> addresses;  // member -> host:port
  std::map<std::string, int> timelines;          // member -> timeline (0: not known)
  std::map<std::string, bool> writable;          // member -> takes writes
  std::string last_failover;                     // "" when the cluster never failed over
};

// One line for `pgkeeper status`: the leader; each member's address,
// position, timeline and lag behind the leader; the last failover with its
// promotion report; and this node's decision.
std::string DescribeCluster(const ElectionFacts& f, const ClusterListing& l, const ElectionDecision& d);

// How long after the leader key changed hands a node keeps reading etcd
// every 100 ms while it catches up (see BetweenLeaders).
constexpr int64_t kSettleMs = 10000;

// Whether the agent reads etcd every 100 ms rather than every third of the
// TTL: while no node leads or a switchover is asked; and, for kSettleMs
// after the key changed hands, until this node caught up with it: a new
// leader until it takes writes (its record says so sooner), a replicant of
// the leader until the leader takes writes and it follows it. In strict
// synchronous mode the new master's first commit waits for that replicant.
bool BetweenLeaders(const ElectionFacts& f, const LocalFacts& local, const ClusterListing& l,
                    const ElectionDecision& d, int64_t since_leader_changed_ms);

// Whether this node is a switchover's target and the hand-over is imminent:
// the old leader stopped taking writes (by its record) but still holds the
// key, or nobody holds it. Then the agent reads etcd every kHandOverPollMs:
// each moment until it sees the key free is part of the write pause.
constexpr int64_t kHandOverPollMs = 20;
bool AwaitsHandOver(const ElectionFacts& f);

class ClusterAgent {
 public:
  ClusterAgent(const ClusterConfig& cc, std::string self, std::string address);
  ~ClusterAgent();

  // Blocks until the cluster lets this node start, then sets *c: a master
  // (bootstrap, or the key taken), or a replicant of the leader with
  // ALLOW_REJOIN. lsn: this node's position from its data (0: none).
  // Returns early, with an error, on a stop signal.
  // standby_data: the data is a replicant's (promoted when the key is won).
  Status DecideStart(bool has_data, bool standby_data, int64_t lsn, Config* c, bool* bootstrap);
  // After the first node's initdb: the cluster exists.
  Status MarkInitialized();
  // Gives up the lease now (at exit): the leader key, if held, goes at once.
  void Release();
  // After a step-down, once postgres wrote its shutdown checkpoint (after
  // it postgres writes nothing; its exit need not be waited for): the
  // agent's thread publishes lsn, that checkpoint's position, as the old
  // leader's final one, which the switchover's target must have, then gives
  // up the leader key (if it still names this node). lsn < 0: not known;
  // the key goes only when this node exits. The first call counts.
  void HandOverAt(int64_t lsn);
  bool hand_over_asked();
  // Waits (at most timeout) until the agent's thread has handed over, or
  // tried to. False on the timeout.
  bool AwaitHandOver(std::chrono::milliseconds timeout);
  // Runs the loop on a thread of its own until Stop: at first it only
  // renews the lease and publishes this node (while initdb, a copy or
  // postgres' start run), and acts on decisions once Activate gives it the
  // running node's hooks.
  void Start();
  void Activate(ClusterHooks hooks);
  void Stop();

  const std::string& self() const { return self_; }
  // SYNCHRONOUS_REPLICANTS in strict mode (0 otherwise): only a synchronous
  // replicant may take over, and a switchover leaves the old master enough.
  void set_synchronous_mode(int required) { sync_required_ = required; }

 private:
  ElectionFacts Gather(const LocalFacts& local, bool has_data, Status* st);
  void Say(const ElectionDecision& d);
  Status Renew(int64_t now_ms);
  Status Publish(const LocalFacts& f);
  Status Read(ElectionFacts* f);
  Status TakeKey(bool* taken);
  // Re-takes a leader key that names this node under this run's lease.
  Status AdoptKey();
  Status HandOver(int64_t lsn);
  void Loop();
  std::string Key(const std::string& leaf) const;

  ClusterConfig cc_;
  std::string self_, address_;
  EtcdClient etcd_;
  int64_t lease_ = 0;
  int64_t leader_lease_ = 0;     // the lease the leader key hangs on, as last read
  // What was last put under members/<self> (with the lease), "optime",
  // "sync" (the synchronous standbys) and "failover".
  std::string published_member_, published_optime_, published_sync_;
  int64_t renew_sent_ms_ = -1;
  ClusterListing listing_;       // as last read
  std::string last_leader_;      // the last leader seen (for the failover record)
  std::string taken_from_;       // failover: the leader before this node took the key
  std::string taken_why_;        // and why it took it ("": this run took none)
  int64_t taken_at_ms_ = 0;      // wall clock
  std::string published_failover_;
  int sync_required_ = 0;
  ClusterHooks hooks_;
  std::string last_why_;
  int64_t last_request_ms_ = 0;
  int takeovers_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool active_ = false;  // guarded by mu_, as hooks_
  // Guarded by mu_: the step-down's hand-over, asked (at hand_over_lsn_) and tried.
  bool hand_over_asked_ = false, handed_over_ = false;
  int64_t hand_over_lsn_ = -1;
  std::string leader_seen_;        // the leader key's holder at the last loop
  int64_t leader_changed_ms_ = 0;  // when it last changed (steady clock)
  std::string switchover_seen_;     // the switchover request ("from>to") at the last loop
  int64_t switchover_seen_ms_ = 0;  // when it was first seen (steady clock)
  LocalFacts starting_;  // published until Activate
};

}  // namespace pgkeeper

#endif  // PGKEEPER_CLUSTER_H_

// Cluster mode's decisions (issue 13), as one pure function of the facts a
// node has gathered: what etcd says (the leader key, the members' published
// positions, whether the cluster was initialised), its own lease's timing
// and its own postgres. The thin layer, ClusterAgent in cluster.cc, gathers
// the facts each loop, carries out the action and logs the sentence.
//
// The two guarantees rest on two rows:
// - a writable node that cannot renew its lease makes itself read-only
//   (kFence) once ttl - fence_margin has passed since it *sent* the last
//   renewal that etcd acknowledged; etcd cannot have expired the lease
//   before ttl after it received that renewal, so with clocks that run at
//   nearly the same rate (drift well under fence_margin / ttl) the old
//   master stops taking writes before anyone else can take the key;
// - a replicant promotes only after it created the leader key itself, in an
//   etcd transaction that succeeds for one node only (kPromote).
#ifndef PGKEEPER_ELECTION_H_
#define PGKEEPER_ELECTION_H_

#include <cstdint>
#include <string>
#include <vector>

namespace pgkeeper {

struct MemberFacts {
  std::string name;
  int64_t lsn = 0;       // WAL received (a replicant) or written (a master)
  bool synchronous = false;  // the master counts it among its synchronous standbys
  bool writable = false;     // its record says it takes writes
  std::string address;       // host:port it advertises
  std::string upstream;        // host:port it is set to replicate from ("": none)
  std::string streaming_from;  // host:port it streams from now ("": none)
};

struct ElectionFacts {
  std::string self;
  // etcd answered this loop; when false, leader and members are unknown.
  bool etcd_ok = false;
  std::string leader;       // who holds the leader key; "" when nobody does
  bool initialized = false; // the cluster's first node finished its initdb
  std::vector<MemberFacts> members;  // every live member, this node included
  int64_t last_leader_lsn = 0;  // the last position the leader published
  // A planned switchover (`pgkeeper switchover`): the leader it was asked of,
  // and the node to hand over to ("" : the best other one).
  std::string switchover_from, switchover_to;
  int64_t switchover_age_ms = 0;  // since this node first saw the request

  // Own lease, on this node's monotonic clock (ms).
  int64_t now_ms = 0;
  int64_t renew_sent_ms = -1;  // sending time of the last acknowledged renewal; -1: none
  int64_t ttl_ms = 3000;
  int64_t fence_margin_ms = 1000;

  bool has_data = false;   // a data directory of this cluster
  bool writable = false;   // postgres here accepts writes now
  bool synchronous_mode = false;  // SYNCHRONOUS_MODE: only a synchronous standby may take over
  int sync_required = 0;          // in synchronous mode: how many a master's commit waits for
  int64_t max_lag_bytes = 16 << 20;  // a replicant further behind the leader does not take over
};

// How long a switchover's old leader keeps taking writes while it waits
// for the other replicants to follow the target (see DecideElection).
constexpr int64_t kSwitchoverFollowWaitMs = 3000;

enum class ElectionAction {
  kLead,        // hold the key: renew the lease, stay writable
  kFence,       // stop taking writes now (then rejoin whoever leads)
  kStepDown,    // switchover: stop taking writes, then give up the key
  kBootstrap,   // take the key, initialise the cluster, mark it initialised
  kTakeOver,    // try to create the leader key (one node wins), then promote
  kPromote,     // this node holds the key but is not writable yet: promote
  kFollow,      // replicate from the leader, or from a switchover's target (target)
  kWait,        // do nothing this loop
};

struct ElectionDecision {
  ElectionAction action = ElectionAction::kWait;
  std::string target;  // kFollow: the leader's name, or the switchover target's
  std::string why;     // the sentence pgkeeper logs
};

const char* ElectionActionName(ElectionAction a);

// The best candidate among eligible members: most WAL, ties to the lowest
// name; "" when none is eligible. Eligible: within max_lag_bytes of
// last_leader_lsn and, in synchronous mode, synchronous. During a
// switchover the old leader is never a candidate, and a named target is the
// only one, once it has everything the old leader wrote.
std::string BestCandidate(const ElectionFacts& f);

ElectionDecision DecideElection(const ElectionFacts& f);

}  // namespace pgkeeper

#endif  // PGKEEPER_ELECTION_H_

#include "cluster/election.h"

namespace pgkeeper {
namespace {

ElectionDecision Do(ElectionAction a, std::string why, std::string target = "") {
  return ElectionDecision{a, std::move(target), std::move(why)};
}

std::string Ms(int64_t ms) { return std::to_string(ms) + " ms"; }

bool Eligible(const ElectionFacts& f, const MemberFacts& m) {
  if (!f.switchover_from.empty()) {
    if (m.name == f.switchover_from) return false;
    if (!f.switchover_to.empty()) return m.name == f.switchover_to && m.lsn >= f.last_leader_lsn;
    return m.lsn >= f.last_leader_lsn;  // a planned switchover loses nothing
  }
  if (f.synchronous_mode && !m.synchronous) return false;
  return f.last_leader_lsn - m.lsn <= f.max_lag_bytes;
}

bool IsMember(const ElectionFacts& f, const std::string& name) {
  for (const auto& m : f.members) {
    if (m.name == name) return true;
  }
  return false;
}

const MemberFacts* Find(const ElectionFacts& f, const std::string& name) {
  for (const auto& m : f.members) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

const MemberFacts* Self(const ElectionFacts& f) { return Find(f, f.self); }

// Whether the replicant `name` may leave a switchover's old leader for its
// target while the old leader still takes writes: always, except in strict
// synchronous mode when the old leader's other synchronous replicants are
// too few for its commits without it.
bool MovesEarly(const ElectionFacts& f, const std::string& name) {
  if (!f.synchronous_mode) return true;
  int others = 0;
  for (const auto& m : f.members) {
    if (m.synchronous && m.name != name && m.name != f.switchover_from) ++others;
  }
  return others >= f.sync_required;
}

// During a switchover to a named node, the other replicants follow it
// already: through it while it is still a replicant (cascading), then on its
// new timeline over the same connection once it promotes, so that its first
// commit (in synchronous mode: the end of the pause) finds them streaming.
bool FollowsSwitchoverTarget(const ElectionFacts& f) {
  if (f.switchover_to.empty() || f.switchover_to == f.self || f.switchover_from == f.self) {
    return false;
  }
  if (!f.has_data || !IsMember(f, f.switchover_to)) return false;
  if (f.leader != f.switchover_from) return f.leader.empty();  // handed over, or over
  const MemberFacts* from = Find(f, f.switchover_from);
  return from == nullptr || !from->writable || MovesEarly(f, f.self);
}

// The old leader's side: the replicants that will move to the target while
// it still takes writes but do not stream from it yet (by their records).
std::string YetToFollowTarget(const ElectionFacts& f) {
  const MemberFacts* to = Find(f, f.switchover_to);
  if (to == nullptr || to->address.empty()) return "";
  std::string names;
  for (const auto& m : f.members) {
    if (m.name == f.self || m.name == f.switchover_to || m.upstream.empty()) continue;
    if (m.streaming_from != to->address && MovesEarly(f, m.name)) {
      names += (names.empty() ? "" : ", ") + m.name;
    }
  }
  return names;
}

// A writable node: keep the key, or stop taking writes in time.
ElectionDecision DecideWritable(const ElectionFacts& f) {
  const int64_t since = f.renew_sent_ms < 0 ? -1 : f.now_ms - f.renew_sent_ms;
  const int64_t deadline = f.ttl_ms - f.fence_margin_ms;
  if (f.etcd_ok && !f.leader.empty() && f.leader != f.self) {
    return Do(ElectionAction::kFence,
              f.leader + " holds the leader key, so this node must not take writes: stop now and "
              "rejoin it as a replicant");
  }
  if (f.etcd_ok && f.leader.empty()) {
    return Do(ElectionAction::kFence,
              "the leader key is gone (this node's lease lapsed), so another node may take it "
              "at any moment: stop taking writes now");
  }
  if (since < 0 || since >= deadline) {
    return Do(ElectionAction::kFence,
              "no renewal of the lease acknowledged for " + (since < 0 ? "ever" : Ms(since)) +
                  " (fencing at " + Ms(deadline) + ": ttl " + Ms(f.ttl_ms) + " less a margin of " +
                  Ms(f.fence_margin_ms) + "), so the lease may lapse and another node take "
                  "over: stop taking writes now");
  }
  if (f.etcd_ok && f.switchover_from == f.self) {
    if (!f.switchover_to.empty() && !IsMember(f, f.switchover_to)) {
      return Do(ElectionAction::kLead, "a switchover to " + f.switchover_to + " was asked, but " +
                                           f.switchover_to + " is not a live member: keep leading");
    }
    const std::string waiting = YetToFollowTarget(f);
    if (!waiting.empty() && f.switchover_age_ms < kSwitchoverFollowWaitMs) {
      return Do(ElectionAction::kLead,
                "a switchover to " + f.switchover_to + " was asked: writes go on until the "
                "other replicants stream from it (not yet: " + waiting + "; for at most " +
                    Ms(kSwitchoverFollowWaitMs) +
                    "), so that its first commit finds them streaming; then step down");
    }
    return Do(ElectionAction::kStepDown,
              "a switchover was asked" +
                  (f.switchover_to.empty() ? std::string() : " to " + f.switchover_to) +
                  ": stop taking writes, let the replicants receive everything, then give up "
                  "the leader key");
  }
  if (!f.etcd_ok) {
    return Do(ElectionAction::kLead,
              "etcd did not answer; the lease was last renewed " + Ms(since) +
                  " ago, so writes go on for " + Ms(deadline - since) +
                  " more while renewal is retried");
  }
  return Do(ElectionAction::kLead, "this node holds the leader key: renew the lease");
}

}  // namespace

const char* ElectionActionName(ElectionAction a) {
  switch (a) {
    case ElectionAction::kLead: return "lead";
    case ElectionAction::kFence: return "fence";
    case ElectionAction::kStepDown: return "step-down";
    case ElectionAction::kBootstrap: return "bootstrap";
    case ElectionAction::kTakeOver: return "take-over";
    case ElectionAction::kPromote: return "promote";
    case ElectionAction::kFollow: return "follow";
    case ElectionAction::kWait: return "wait";
  }
  return "?";
}

std::string BestCandidate(const ElectionFacts& f) {
  const MemberFacts* best = nullptr;
  for (const auto& m : f.members) {
    if (!Eligible(f, m)) continue;
    if (best == nullptr || m.lsn > best->lsn || (m.lsn == best->lsn && m.name < best->name)) {
      best = &m;
    }
  }
  return best ? best->name : "";
}

ElectionDecision DecideElection(const ElectionFacts& f) {
  if (f.writable) return DecideWritable(f);
  if (!f.etcd_ok) {
    return Do(ElectionAction::kWait,
              "etcd did not answer: keep doing what this node does; without the leader key it "
              "never promotes");
  }
  if (f.leader == f.self) {
    return Do(ElectionAction::kPromote, "this node holds the leader key: promote it");
  }
  if (FollowsSwitchoverTarget(f)) {
    return Do(ElectionAction::kFollow,
              "a switchover to " + f.switchover_to + " was asked: replicate from it already (it "
              "relays the leader's WAL until it promotes), so that its first commit finds this "
              "node streaming",
              f.switchover_to);
  }
  if (!f.leader.empty()) {
    if (!f.has_data && !f.initialized) {
      return Do(ElectionAction::kWait, f.leader + " is initialising the cluster: wait for it");
    }
    return Do(ElectionAction::kFollow, "replicate from the leader " + f.leader, f.leader);
  }
  // Nobody leads.
  if (!f.initialized) {
    if (f.has_data) {
      return Do(ElectionAction::kWait,
                "the cluster is not marked initialised but this node has data: a person must "
                "decide (its first node may have failed mid-initdb)");
    }
    return Do(ElectionAction::kBootstrap,
              "no cluster yet: take the leader key, initialise it here and mark it initialised");
  }
  if (!f.has_data) {
    return Do(ElectionAction::kWait, "no leader, and this node has no data to promote: wait for one");
  }
  const MemberFacts* self = Self(f);
  if (self == nullptr) {
    return Do(ElectionAction::kWait, "this node has not published its position yet: wait");
  }
  if (!f.switchover_from.empty() && self->name != f.switchover_from && !Eligible(f, *self)) {
    const std::string best = BestCandidate(f);
    if (!f.switchover_to.empty() && f.switchover_to != f.self) {
      return Do(ElectionAction::kWait, "switchover to " + f.switchover_to + ": wait for it");
    }
    return Do(ElectionAction::kWait,
              "switchover from " + f.switchover_from + ": " +
                  (best.empty() || best == f.self ? "this node waits until it has received everything "
                                                    "the old leader wrote"
                                                  : best + " takes over"));
  }
  if (!Eligible(f, *self)) {
    if (!f.switchover_from.empty()) {
      return Do(ElectionAction::kWait, "the switchover is away from this node: it does not take over");
    }
    if (f.synchronous_mode && !self->synchronous) {
      return Do(ElectionAction::kWait,
                "no leader, but in synchronous mode only a synchronous replicant may take over, "
                "and this node is not one");
    }
    return Do(ElectionAction::kWait,
              "no leader, but this node is " + std::to_string(f.last_leader_lsn - self->lsn) +
                  " bytes behind the last leader's position (at most " +
                  std::to_string(f.max_lag_bytes) + "): it does not take over");
  }
  const std::string best = BestCandidate(f);
  if (best != f.self) {
    return Do(ElectionAction::kWait, "no leader; " + best + " has the most WAL, so it takes over");
  }
  return Do(ElectionAction::kTakeOver,
            "no leader, and this node has the most WAL of the eligible members (" +
                std::to_string(self->lsn) + "): take the leader key, then promote");
}

}  // namespace pgkeeper

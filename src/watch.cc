#include "watch.h"

#include <signal.h>

#include "base/fs.h"
#include "base/log.h"
#include "monitor.h"
#include "plan.h"
#include "postgresql/promote.h"
#include "postgresql/render.h"
#include "postgresql/sync.h"

namespace pgkeeper {

void SlotKeeper::Tick(const Node& n) {
  if (!standby_) return;
  auto now = std::chrono::steady_clock::now();
  if (now < next_try_) return;
  Snapshot s = n.monitor->Latest();
  if (!s.postgres_up || !s.in_recovery || s.streaming) return;
  next_try_ = now + std::chrono::seconds(10);
  std::string sentence;
  Status st = EnsureSlotInChild(n, &sentence);
  if (sentence == last_) return;
  last_ = sentence;
  st.ok() ? LogInfo(sentence) : LogWarn("replication slot: " + sentence);
}

bool StallWatch::Tick(const Node& n) {
  if (!standby_ || n.monitor->Keeper().phase != "stalled") return false;
  auto now = std::chrono::steady_clock::now();
  if (now < next_check_) return false;
  next_check_ = now + std::chrono::seconds(30);
  StallFacts facts;
  facts.forked = n.monitor->Keeper().wal_missing.find("forked off") != std::string::npos;
  Status st = TreeBytes(n.config.pgdata, &facts.data_bytes);
  if (st.ok()) st = FreeBytes(n.config.pgdata, &facts.free_bytes);
  if (!st.ok()) {
    LogWarn("cannot measure the disk for a fresh copy: " + st.message());
    return false;
  }
  Plan plan = DecideStalled(n.config, facts);
  if (plan.action == Action::kReclone) {
    LogInfo("decision: " + plan.reason);
    last_.clear();
    return true;
  }
  if (plan.reason != last_) {
    LogError(plan.reason);
    n.monitor->SetPhase("stalled", plan.reason);
    last_ = plan.reason;
  }
  return false;
}

void PeerWatch::Tick(const Node& n) {
  if (!standby_) return;
  auto now = std::chrono::steady_clock::now();
  if (now < next_) return;
  Snapshot s = n.monitor->Latest();
  if (!s.streaming) return;
  next_ = now + std::chrono::seconds(30);
  std::string text;
  Status st = RunSelfChild(n, "upstream-replicants", [&](const std::string& line) { text += line + "\n"; });
  PeerList list;
  if (st.ok() && !ParsePeerList(text, &list)) st = Status::Tool("upstream-replicants: " + text);
  if (st.ok()) st = WriteFileAtomic(JoinPath(n.config.pgdata, kPeersFile), RenderPeerList(list), 0600);
  if (st.ok()) {
    last_error_.clear();
    // A synchronous master names a new replicant within a second or two of
    // its slot: look again soon, so that a promotion knows it was named.
    const StandbyList named = ParseStandbyNames(list.standby_names);
    if (named.n > 0 && !IsListed(ApplicationName(n.id.node_name), named.names)) {
      next_ = now + std::chrono::seconds(2);
    }
    return;
  }
  std::string e = "cannot list " + MasterName(n.config) + "'s other replicants (a promotion " +
                  "would not know them): " + (text.empty() ? st.message() : text);
  if (e != last_error_) LogWarn(e);
  last_error_ = e;
}

void DiskWatch::Tick(const Node& n, bool said_full) {
  Snapshot s = n.monitor->Latest();
  DiskFacts disk{n.config.pgdata, said_full, s.disk_free_bytes, s.disk_total_bytes};
  const bool full = DiskIsFull(disk);
  if (full == full_) return;
  full_ = full;
  KeeperState k = n.monitor->Keeper();
  if (full) {
    phase_before_ = k.phase;
    message_before_ = k.message;
    std::string sentence = DiskFullAdvice(disk) + "; postgres cannot write " +
                           (s.in_recovery ? "the WAL it receives" : "new data") +
                           " until there is room, then goes on by itself";
    LogError(sentence);
    n.monitor->SetPhase("disk-full", sentence);
    return;
  }
  // Unless postgres exited meanwhile and was started again (restart.cc).
  if (k.phase != "disk-full") return;
  LogInfo("the disk holding " + disk.path + " has " + FormatMB(disk.free_bytes) +
          " free again; postgres goes on");
  n.monitor->SetPhase(phase_before_, message_before_);
}

void SyncKeeper::Tick(Node& n, int postmaster_pid) {
  if (n.config.sync_replicants > 0) Apply(n, postmaster_pid, n.monitor->Latest());
}

void SyncKeeper::AfterPromotion(Node& n, int postmaster_pid, const Snapshot& now) {
  if (n.config.sync_replicants > 0) Apply(n, postmaster_pid, now);
}

void SyncKeeper::Apply(Node& n, int postmaster_pid, const Snapshot& s) {
  const Config& c = n.config;
  if (!s.postgres_up || s.in_recovery) return;
  const std::vector<std::string> eligible = EligibleReplicants(s.slots);
  SyncDecision d = DecideSync(c.sync_replicants, c.sync_available, eligible,
                              CountSyncCandidates(s.replicants, eligible), n.sync);
  if (!d.change) return;
  const StandbyList before = n.sync;
  n.sync = d.list;
  Status st = WriteConfigFiles(n, c.pgdata, false);
  if (!st.ok()) {
    n.sync = before;  // tried again at the next tick
    LogError("cannot change synchronous replication: " + st.message());
    return;
  }
  ::kill(postmaster_pid, SIGHUP);
  LogInfo(d.reason);
}

}  // namespace pgkeeper

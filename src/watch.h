// The periodic checks `pgkeeper run` makes while postgres runs, each a thin
// loop around a pure decision: a replicant's slot on its upstream
// (slots.h), a stalled replicant's fresh copy (plan.h, DecideStalled), and
// a master's synchronous requirement in SYNCHRONOUS_MODE=available (sync.h).
// Each Tick is cheap when there is nothing to do; only changed outcomes are
// logged.
#ifndef PGKEEPER_WATCH_H_
#define PGKEEPER_WATCH_H_

#include <chrono>
#include <string>

#include "node.h"
#include "plan.h"

namespace pgkeeper {

// A replicant that does not stream checks its slot on the upstream now and
// then: the upstream may have been down at start, or the slot dropped or
// invalidated since.
class SlotKeeper {
 public:
  explicit SlotKeeper(bool standby) : standby_(standby) {}
  void Tick(const Node& n);
  // What the check before postgres started said.
  void Seen(const std::string& sentence) { last_ = sentence; }

 private:
  bool standby_;
  std::chrono::steady_clock::time_point next_try_{};
  std::string last_;
};

// A replicant whose upstream no longer has the WAL it needs (the monitor
// says "stalled") takes a fresh copy beside its data when the disk can hold
// both (DecideStalled); otherwise it stays stalled, serving its old data
// read-only, says what is missing, and looks again every 30 s.
class StallWatch {
 public:
  explicit StallWatch(bool standby) : standby_(standby) {}
  // True when a fresh copy should replace the data now.
  bool Tick(const Node& n);

 private:
  bool standby_;
  std::chrono::steady_clock::time_point next_check_{};
  std::string last_;
};

// A streaming replicant asks its upstream every 30 s which replicants
// stream from it (`pgkeeper upstream-replicants`) and keeps the list in
// $PGDATA (promote.h, kPeersFile): a promotion later asks those peers how
// much WAL they have, after the master is gone.
class PeerWatch {
 public:
  explicit PeerWatch(bool standby) : standby_(standby) {}
  void Tick(const Node& n);

 private:
  bool standby_;
  std::chrono::steady_clock::time_point next_{};
  std::string last_error_;
};

// The disk holding PGDATA, from the monitor's snapshot: when it fills
// (DiskIsFull) pgkeeper says so once, with what to do, and shows the phase
// "disk-full" until there is room again; postgres itself goes on once it
// can write (a standby's WAL receiver retries by itself). When postgres
// exits for it instead, RestartAfterCrash waits for room (restart.h).
class DiskWatch {
 public:
  // said_full: postgres said "No space left on device" since it started.
  void Tick(const Node& n, bool said_full);

 private:
  bool full_ = false;
  std::string phase_before_, message_before_;
};

// On a synchronous master (also one promoted while pgkeeper runs): keeps
// synchronous_standby_names naming the replicants that have a slot here,
// and in SYNCHRONOUS_MODE=available asks for as many of them as stream
// (DecideSync); a change rewrites pgkeeper.conf and has postgres reload it.
// In strict mode the number asked never changes.
class SyncKeeper {
 public:
  // REQUIRES: pid is the postmaster's.
  void Tick(Node& n, int postmaster_pid);
  // Right after a promotion, from a snapshot taken after it: the replicants
  // that already stream from this node (cascading) confirm its first
  // commits without waiting for the next tick.
  void AfterPromotion(Node& n, int postmaster_pid, const Snapshot& now);

 private:
  void Apply(Node& n, int postmaster_pid, const Snapshot& s);
};

}  // namespace pgkeeper

#endif  // PGKEEPER_WATCH_H_

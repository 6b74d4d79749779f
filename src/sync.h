// Synchronous replication. With SYNCHRONOUS_REPLICANTS=N a master's commit
// returns only once N of its replicants have it (at the SYNCHRONOUS_COMMIT
// level): synchronous_standby_names = 'ANY N (*)'.
//
// SYNCHRONOUS_MODE says what happens while fewer than N replicants stream:
// `strict` keeps the requirement (commits wait: nothing acknowledged exists
// on the master alone); `available` lowers it to the replicants that do
// stream, down to none, and raises it again as they come back, each change
// logged (docs/design.md, "Synchronous replication").
#ifndef PGKEEPER_SYNC_H_
#define PGKEEPER_SYNC_H_

#include <string>
#include <vector>

#include "snapshot.h"

namespace pgkeeper {

// A replicant heard from longer ago than this no longer counts toward the
// requirement in `available` mode: with wal_receiver_status_interval at
// kStatusIntervalSeconds, a live one answers at least that often.
inline constexpr int kStatusIntervalSeconds = 2;
inline constexpr double kSyncReplyMaxAgeSeconds = 3.0 * kStatusIntervalSeconds;

// synchronous_standby_names asking n replicants: "" for 0, "ANY n (*)".
std::string StandbyNamesFor(int n);

// What synchronous_standby_names asks: n for "ANY n (*)", 0 for "", and -1
// for anything else (set by hand, e.g. with ALTER SYSTEM).
int ParseStandbyNames(const std::string& value);

// The downstreams that can count toward the requirement now: connected
// (a master sees only its direct replicants), caught up to the point of
// streaming, heard from within kSyncReplyMaxAgeSeconds, and not a clone's
// WAL stream (pg_basebackup).
int CountSyncCandidates(const std::vector<ReplicantInfo>& replicants);

struct SyncDecision {
  int replicants = 0;   // what synchronous_standby_names should ask for now
  bool change = false;  // differs from what is asked now
  std::string reason;   // one sentence for the log, when change
};

// Pure. required: SYNCHRONOUS_REPLICANTS; available: SYNCHRONOUS_MODE is
// `available`; candidates: CountSyncCandidates; current: what is asked now.
SyncDecision DecideSync(int required, bool available, int candidates, int current);

// The number asked when a master starts, before any replicant has connected:
// all of them in strict mode, none in available mode.
int InitialSyncReplicants(int required, bool available);

}  // namespace pgkeeper

#endif  // PGKEEPER_SYNC_H_

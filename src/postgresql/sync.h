// Synchronous replication. With SYNCHRONOUS_REPLICANTS=N a master's commit
// returns only once N of its replicants have it (at the SYNCHRONOUS_COMMIT
// level): synchronous_standby_names = 'ANY N ("a", "b", ...)', where the
// names are the replicants that may confirm a commit: one per replication
// slot on this node, which each replicant makes under its own name
// (slots.h) and streams under as its application_name. A clone's WAL
// stream (pg_basebackup, application_name pgkeeper_clone), pg_receivewal
// or any other connection streams under another name and never counts.
//
// SYNCHRONOUS_MODE says what happens while fewer than N of them stream:
// `strict` keeps the requirement (commits wait: nothing acknowledged exists
// on the master alone); `available` lowers it to the listed replicants that
// do stream, down to none, and raises it again as they come back, each
// change logged (docs/design.md, "Synchronous replication").
#ifndef PGKEEPER_SYNC_H_
#define PGKEEPER_SYNC_H_

#include <string>
#include <vector>

#include "base/values.h"
#include "snapshot.h"

namespace pgkeeper {

// A replicant heard from longer ago than this no longer counts toward the
// requirement in `available` mode: with wal_receiver_status_interval at
// kStatusIntervalSeconds, a live one answers at least that often.
inline constexpr int kStatusIntervalSeconds = 2;
inline constexpr double kSyncReplyMaxAgeSeconds = 3.0 * kStatusIntervalSeconds;

// The name listed while no replicant may confirm yet (no slot on this
// node): pgkeeper's replicants stream under letters, digits and '_' only
// (ApplicationName), so none of them has it, and commits wait.
inline constexpr const char kNoReplicantName[] = "pgkeeper-none";

// What synchronous_standby_names asks: n of the replicants names.
struct StandbyList {
  int n = 0;                       // 0: nothing asked; -1: not pgkeeper's form (set by hand)
  std::vector<std::string> names;  // who may confirm, sorted; empty when n is 0
  bool operator==(const StandbyList&) const = default;
};

// "" for n == 0, else ANY n ("a", "b"), or ANY n ("pgkeeper-none") when no
// name is listed. REQUIRES: names hold only what SlotName makes.
std::string StandbyNamesFor(const StandbyList& list);

// Parses what StandbyNamesFor writes; n is -1 for anything else (set by
// hand, e.g. with ALTER SYSTEM).
StandbyList ParseStandbyNames(const std::string& value);

// The replicants that may confirm a commit on this node: the names of its
// permanent physical slots (a temporary one belongs to a pg_basebackup or
// pg_receivewal run), sorted.
std::vector<std::string> EligibleReplicants(const std::vector<SlotInfo>& slots);

// IsListed (values.h) compares an application_name with these names as
// PostgreSQL does, ignoring case.

// The downstreams that can count toward the requirement now: listed in
// names, connected (a master sees only its direct replicants), caught up
// to the point of streaming and heard from within kSyncReplyMaxAgeSeconds.
int CountSyncCandidates(const std::vector<ReplicantInfo>& replicants,
                        const std::vector<std::string>& names);

struct SyncDecision {
  StandbyList list;     // what synchronous_standby_names should ask for now
  bool change = false;  // differs from what is asked now
  std::string reason;   // one sentence for the log, when change
};

// Pure. required: SYNCHRONOUS_REPLICANTS; available: SYNCHRONOUS_MODE is
// `available`; eligible: EligibleReplicants; candidates: CountSyncCandidates
// over eligible; current: what is asked now.
SyncDecision DecideSync(int required, bool available, const std::vector<std::string>& eligible,
                        int candidates, const StandbyList& current);

// What a master asks when it starts, before any replicant has connected and
// before its slots are looked at: all of them in strict mode (of nobody
// yet, so commits wait), none in available mode.
StandbyList InitialSyncList(int required, bool available);

}  // namespace pgkeeper

#endif  // PGKEEPER_SYNC_H_

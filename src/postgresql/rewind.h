// Carrying out a rejoin (rejoin.h has the pure part): gather the facts of
// this node (pg_controldata, its timeline history, pg_waldump from the fork
// point) and of the new master (`pgkeeper upstream-facts`), report and keep
// what will be discarded, then follow, pg_rewind or copy.
//
// pg_rewind changes PGDATA in place. That keeps the promise "no data is
// deleted before its replacement is complete" because what only this node
// holds (its WAL after the fork point) is copied aside before pg_rewind
// starts, and everything else is on the new master. A rewind stopped midway
// leaves a marker in RejoinDir beside PGDATA, so the next start takes a fresh copy
// (plan.cc, kRewindInterrupted); a rewind that fails falls back to the copy.
#ifndef PGKEEPER_REWIND_H_
#define PGKEEPER_REWIND_H_

#include "config/config.h"
#include "node.h"
#include "postgresql/rejoin.h"
#include "base/status.h"

namespace pgkeeper {

// REQUIRES: postgres is not running on PGDATA. On success PGDATA holds a
// replicant's data (standby.signal) that follows the new master.
Status Rejoin(Node& n);

// pg_controldata of PGDATA, read.
Status ReadControlData(const Node& n, ControlData* out);

// `pgkeeper upstream-facts [--checkpoint] [DB/RELFILENODE...]`, run by
// Rejoin as a child (SCRAM logins stay out of the supervisor): prints one
// JSON object with the upstream's system identifier, timeline, WAL position,
// timeline history and database size, and the names of the given relations
// where the upstream knows them. --checkpoint runs CHECKPOINT there first;
// --names prints only the names (one login fewer, no replication login).
int RunUpstreamFacts(const Env& env, const std::vector<std::string>& args);

}  // namespace pgkeeper

#endif  // PGKEEPER_REWIND_H_

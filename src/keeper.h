// The executor of `pgkeeper run` and the `health` check.
#ifndef PGKEEPER_KEEPER_H_
#define PGKEEPER_KEEPER_H_

#include <chrono>
#include <cstdint>

#include "config.h"
#include "pg.h"
#include "status.h"

namespace pgkeeper {

// Runs the node until postgres exits; returns the process exit code.
int RunKeeper(const Env& env);

// `pgkeeper apply-master`, run by RunKeeper as its own child: sets the
// passwords, databases and extensions the environment asks for on the local
// server, then exits (see ApplyMasterObjectsInChild in keeper.cc).
int RunApplyMaster(const Env& env);

// Promotes the local PostgreSQL (REQUIRES: it runs, in recovery) with
// pg_promote, checks that it takes writes, and records the promotion in
// $PGDATA/pgkeeper.state. *elapsed_ms: from the request to a working write.
// signalled: pg_promote was sent already (cluster mode's agent); only waits.
Status PromoteLocal(const Config& config, int64_t* elapsed_ms, bool signalled = false);
// Waits until the promotion asked of the server conn is connected to has
// finished (pg_is_in_recovery() false), looking every 5 ms; see the .cc for
// the reloads it sends meanwhile.
Status AwaitPromotion(PgConn& conn, std::chrono::milliseconds timeout);

}  // namespace pgkeeper

#endif  // PGKEEPER_KEEPER_H_

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

}  // namespace pgkeeper

#endif  // PGKEEPER_KEEPER_H_

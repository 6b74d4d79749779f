// The executor of `pgkeeper run`: inspect, decide, carry the plan out, then
// supervise postgres until it exits (the `health` check and the other
// commands are in commands.cc, a master's first start in bootstrap.cc).
#ifndef PGKEEPER_KEEPER_H_
#define PGKEEPER_KEEPER_H_

#include <chrono>
#include <cstdint>

#include "config/config.h"
#include "postgresql/pg.h"
#include "base/status.h"

namespace pgkeeper {

// Runs the node until postgres exits; returns the process exit code.
int RunKeeper(const Env& env);

}  // namespace pgkeeper

#endif  // PGKEEPER_KEEPER_H_

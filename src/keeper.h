// The executor of `pgkeeper run` and the `health` check.
#ifndef PGKEEPER_KEEPER_H_
#define PGKEEPER_KEEPER_H_

#include "config.h"

namespace pgkeeper {

// Runs the node until postgres exits; returns the process exit code.
int RunKeeper(const Env& env);
// Prints the node's phase; 0 when it serves queries, 1 otherwise.
int RunHealth(const Env& env);

}  // namespace pgkeeper

#endif  // PGKEEPER_KEEPER_H_

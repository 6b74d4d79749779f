// Bootstrap of a master: initdb, then roles, databases, extensions and the
// first-start scripts on a server nobody can reach yet, then the swap into
// place. Also re-applies roles, databases and extensions at later starts.
#ifndef PGKEEPER_BOOTSTRAP_H_
#define PGKEEPER_BOOTSTRAP_H_

#include "config/config.h"
#include "node.h"
#include "base/status.h"

namespace pgkeeper {

// Initialises a new master in the staging directory and swaps it into PGDATA.
Status InitMaster(const Node& n);

// Roles, databases and extensions from the environment, set on the running
// local server by the `pgkeeper apply-master` child.
Status ApplyMasterObjectsInChild(const Node& n);

// `pgkeeper apply-master`, that child: sets the passwords, databases and
// extensions the environment asks for on the local server, then exits.
int RunApplyMaster(const Env& env);

}  // namespace pgkeeper

#endif  // PGKEEPER_BOOTSTRAP_H_

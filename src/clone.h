// Copying the upstream into a replicant: wait until it answers, make sure the
// replicant's slot exists there, pg_basebackup into the staging directory
// (progress to the monitor and the log), and swap the copy into place.
#ifndef PGKEEPER_CLONE_H_
#define PGKEEPER_CLONE_H_

#include "node.h"
#include "status.h"

namespace pgkeeper {

// Waits, with backoff and a line per attempt, until the upstream answers.
Status WaitForMaster(const Node& n);

// With SSL_CA_FILE: verifies the upstream's certificate as the walreceiver
// will (`pgkeeper upstream-tls`); a failure is Status::State with what the
// certificate names and how to fix it (tls.h, UpstreamTlsAdvice). An
// upstream that does not answer is not a failure here.
Status CheckUpstreamTls(const Node& n);

// Copies the upstream beside the data and swaps it in; retries a failed
// copy with backoff (the existing data stays untouched) until a stop signal.
Status Clone(const Node& n);

}  // namespace pgkeeper

#endif  // PGKEEPER_CLONE_H_

// Copying the upstream into a replicant: wait until it answers, make sure the
// replicant's slot exists there, pg_basebackup into the staging directory
// (progress to the monitor and the log), and swap the copy into place.
#ifndef PGKEEPER_CLONE_H_
#define PGKEEPER_CLONE_H_

#include <cstdint>

#include "node.h"
#include "base/status.h"

namespace pgkeeper {

// Waits until the upstream answers, looking as MasterLook says.
Status WaitForMaster(const Node& n);

// The wait before the next look for the upstream, waited_ms after the
// first, last_ms after the one before: every 100 ms for the first 30 s, the
// span in which a master that starts beside its replicants (the sample's
// `make up`) initialises; after that twice as long each time, up to 5 s.
int NextMasterLookMs(int64_t waited_ms, int last_ms);
// Whether look number attempt (from 1) gets a line in the log: the first
// two, any whose answer differs from the one before, and then one in 50
// (every 5 s while looking every 100 ms) or every one once they are 1 s or
// more apart. The status shows every look.
bool LogMasterLook(int attempt, bool answer_changed, int next_ms);

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

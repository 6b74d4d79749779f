// Carries out a promotion the way promote.h decides it: gather the facts
// (this node's WAL, what the upstream last said, the peers the master listed,
// and, through the `promote-facts` child, whether the old master and the
// peers answer), refuse or promote, then report what it may have cost in
// the log, in $PGDATA/pgkeeper.promotion and in the status (/status).
#ifndef PGKEEPER_PROMOTION_H_
#define PGKEEPER_PROMOTION_H_

#include <string>

#include "node.h"
#include "status.h"

namespace pgkeeper {

inline constexpr const char kPromotionFile[] = "pgkeeper.promotion";
// `pgkeeper promote` leaves its request here (in PGKEEPER_RUN_DIR) and
// waits for the answer beside it, as `follow` does.
inline constexpr const char kPromoteRequestFile[] = "pgkeeper.promote-request";
inline constexpr const char kPromoteResultFile[] = "pgkeeper.promote-result";

// REQUIRES: postgres runs here, in recovery. force: --force or
// PROMOTE_FORCE=True. On success *report is the report; a refusal is
// Status::State with the reason. signalled: cluster mode's agent sent
// pg_promote already (postgres may be writable by now): wait for the end
// and keep the records.
Status PromoteWithReport(const Node& n, bool force, std::string* report, bool signalled = false);

}  // namespace pgkeeper

#endif  // PGKEEPER_PROMOTION_H_

// Carries out a promotion the way promote.h decides it: gather the facts
// (this node's WAL, what the upstream last said, the peers the master listed,
// and, through the `promote-facts` child, whether the old master and the
// peers answer), refuse or promote, then report what it may have cost in
// the log, in $PGDATA/pgkeeper.promotion and in the status (/status).
#ifndef PGKEEPER_PROMOTION_H_
#define PGKEEPER_PROMOTION_H_

#include <chrono>
#include <string>
#include <vector>

#include "node.h"
#include "postgresql/pg.h"
#include "base/process.h"
#include "base/status.h"

namespace pgkeeper {

inline constexpr const char kPromotionFile[] = "pgkeeper.promotion";
// `pgkeeper promote` leaves its request here (in PGKEEPER_RUN_DIR) and
// waits for the answer beside it, as `follow` does.
inline constexpr const char kPromoteRequestFile[] = "pgkeeper.promote-request";
inline constexpr const char kPromoteResultFile[] = "pgkeeper.promote-result";

// What a running replicant keeps ready for a promotion, so that one asked
// for starts at once (while no node takes writes): a session to the local
// server, which spares a new backend's fork (10-15 ms on a small machine),
// and the `promote-facts` child, started and waiting with libpq loaded
// (`--when-asked`), which spares a process start and libpq's (about 15 ms).
// The supervisor's thread ticks it with its other checks.
class PromotionSession {
 public:
  ~PromotionSession() { Release(); }
  // Opens the session and starts the child while this node is a running
  // replicant, unless they are there (a broken session is replaced when a
  // promotion finds it so; a child that exited is started again). Returns
  // how soon, in ms, it wants to try again: while the server does not take
  // the session yet (it is still starting), 100 ms at first and twice as
  // long each time after; otherwise -1, whenever the caller likes.
  int Tick(const Node& n);
  // The session, connected to the local server and answering: the kept one
  // when it still answers, else a new one. *received: this node's received
  // (or, after a restart, replayed) WAL position, which proves it answers.
  Status Take(const Config& c, Lsn* received);
  PgConn& conn() { return conn_; }
  // What `promote-facts` printed: the waiting child's answer when it was
  // started with the environment a child would get now, else a new child's.
  Status Facts(const Node& n, std::string* text);
  // Closes the session and lets the waiting child go (after a promotion: a
  // master needs neither).
  void Release();

 private:
  Status Open(const Config& c);
  void StopChild();

  PgConn conn_;
  bool open_ = false;
  StartedTool child_;                   // pid 0 when none waits
  std::vector<std::string> child_env_;  // the environment it was given
  bool child_failed_ = false;           // one ended: promotions start their own
  int retry_ms_ = 100;                  // the next wait while the session fails
};

// REQUIRES: postgres runs here, in recovery. force: --force or
// PROMOTE_FORCE=True. session: kept open by the caller, or a new one. On
// success *report is the report, in the log, the status and $PGDATA already; a
// refusal is Status::State with the reason. signalled: cluster mode's agent
// sent pg_promote already (postgres may be writable by now): wait for the
// end and keep the records.
Status PromoteWithReport(const Node& n, bool force, PromotionSession& session, std::string* report,
                         bool signalled = false);

// Writes a report PromoteWithReport made to $PGDATA/pgkeeper.promotion
// again, synced to disk. PromoteWithReport leaves it unsynced, so that a
// waiting `pgkeeper promote` is answered first: a file synced while the
// end-of-recovery checkpoint runs takes ~10 ms.
void KeepPromotionReport(const Config& c, const std::string& report);

// Waits until the promotion asked of the server conn is connected to has
// finished (pg_is_in_recovery() false), looking every 2 ms; see the .cc for
// the reloads it sends meanwhile.
Status AwaitPromotion(PgConn& conn, std::chrono::milliseconds timeout);

}  // namespace pgkeeper

#endif  // PGKEEPER_PROMOTION_H_

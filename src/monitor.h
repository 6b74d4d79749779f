// The monitor keeps the node's snapshot: pgkeeper's phase (set by the
// executor) and PostgreSQL's facts (polled once a second on its own thread,
// with short timeouts, so neither the supervisor nor the API ever waits on
// PostgreSQL). It also writes the status file read by `pgkeeper health`
// and `pgkeeper status`.
#ifndef PGKEEPER_MONITOR_H_
#define PGKEEPER_MONITOR_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.h"
#include "postgresql/pg.h"
#include "postgresql/promote.h"
#include "snapshot.h"
#include "base/status.h"

namespace pgkeeper {

inline constexpr const char kStatusFile[] = "pgkeeper.status";

// Reads PostgreSQL's replication facts into *s (postgres_up and the rest).
Status CollectPostgresFacts(PgConn& conn, Snapshot* s);
// Fills the replicants streaming from this node and its physical slots.
Status CollectDownstreams(PgConn& conn, Snapshot* s);
// Fills the disk facts of *s for the disk holding pgdata (-1 when unknown).
void MeasureDataDisk(const std::string& pgdata, Snapshot* s);
// Connection parameters for the monitor: the local socket with timeouts.
ConnParams MonitorParams(const Config& c);

class Monitor {
 public:
  Monitor(const Config& config, KeeperState initial);
  ~Monitor();

  void SetPhase(const std::string& phase, const std::string& message);
  void SetClone(const CloneProgress& clone);
  // Also polls postgres at once (not at the next second), so that GET
  // /primary answers 200 as soon as the promoted node takes writes.
  void SetPromoted();
  // Postgres was seen to take writes (by cluster mode's agent, which
  // promoted it): the snapshot says so now, not at the next poll, so that
  // GET /primary answers 200 at once; a poll begun before it that still saw
  // recovery does not undo it.
  void NoteWritable();
  // Polls postgres now rather than at the next second (fresher facts for
  // a decision that is waiting on them).
  void PollSoon();
  void SetPromotionReport(const std::string& report);
  // The upstream a replicant follows now ("host:port").
  void SetMaster(const std::string& master);
  void NoteWalMissing(const std::string& postgres_line);
  // The last connection pg_hba.conf turned away, as DescribeRefusal says it.
  void NoteRefused(const std::string& sentence);
  // Cluster mode: what etcd says and what this node does about it.
  void NoteCluster(const std::string& view, bool leader, int takeovers);
  // From now on PostgreSQL is expected to run: poll it.
  void ExpectPostgres(bool expected);

  Snapshot Latest();
  // A snapshot taken after this call: polls now and waits for that poll
  // (at most timeout; then the latest). For a decision that must not act on
  // what was true a second ago (cluster mode's agent between leaders).
  Snapshot Fresh(std::chrono::milliseconds timeout);
  // The latest snapshot and its JSON, never null. Rendered on the first call
  // after a change and shared until the next one, so the API, which calls
  // this per request, neither copies nor renders the snapshot per request.
  std::shared_ptr<const PublishedSnapshot> Published();
  KeeperState Keeper();
  // What the upstream last said while this node streamed (end 0: nothing
  // since pgkeeper started).
  Heard LastHeard();

 private:
  void Loop();
  void Poll();
  // Keeps the upstream's position from its last message in $PGDATA
  // (promote.h, kHeardFile) for a later promotion report.
  void NoteHeard(const Snapshot& s, const std::string& upstream);
  void WriteStatusFile(const KeeperState& k);
  // Applies change to the keeper state under the lock, then writes the file.
  template <typename Change>
  void Update(Change change);

  const Config config_;
  std::mutex mu_;
  std::condition_variable cv_;
  KeeperState keeper_;
  Snapshot latest_;
  std::shared_ptr<const PublishedSnapshot> published_;  // of latest_; reset when it changes
  bool stop_ = false;
  bool poll_now_ = false;  // under mu_: poll before the second is up
  uint64_t polls_started_ = 0;  // under mu_: numbers the polls, for Fresh
  uint64_t polls_done_ = 0;
  uint64_t writable_since_poll_ = 0;  // under mu_: polls numbered up to this one are older
  std::atomic<bool> expect_postgres_{false};
  bool streaming_ = false;
  std::chrono::steady_clock::time_point streaming_since_;
  PgConn conn_;  // used by the polling thread only
  bool connected_ = false;
  Heard heard_;          // the latest seen (under mu_)
  Heard heard_written_;  // the latest in kHeardFile
  std::chrono::steady_clock::time_point heard_written_at_;
  std::thread thread_;
};

}  // namespace pgkeeper

#endif  // PGKEEPER_MONITOR_H_

// What a node knows about itself at one moment: pgkeeper's own phase and
// PostgreSQL's replication facts. Pure data plus pure functions that derive,
// serialise and render it; the monitor fills it, the API, `pgkeeper status`
// and `pgkeeper health` read it.
#ifndef PGKEEPER_SNAPSHOT_H_
#define PGKEEPER_SNAPSHOT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace pgkeeper {

struct CloneProgress {
  bool active = false;
  int64_t done_bytes = 0;
  int64_t total_bytes = 0;
  double rate_bytes_per_s = 0;  // average since the copy started
  double eta_seconds = -1;      // -1: unknown
  double percent() const {
    return total_bytes > 0 ? 100.0 * static_cast<double>(done_bytes) / total_bytes : 0;
  }
};

// pgkeeper's own state, kept by the executor and written to the status file.
struct KeeperState {
  int pid = 0;
  std::string phase = "starting";  // see README, "Health"
  std::string message;
  bool configured_replicant = false;  // REPLICATE_FROM is set
  bool promoted = false;              // this node's data was promoted at some time
  std::string master;                 // host:port followed, if any
  CloneProgress clone;
  std::string wal_missing;            // postgres' line, while the master lacks our WAL
  std::string promotion;              // the last promotion's report (promote.h)
  std::string cluster;                // cluster mode: etcd's view and this node's decision (cluster.h)
  bool cluster_leader = false;        // cluster mode: this node holds the leader key
  int cluster_takeovers = 0;          // cluster mode: leader keys this run took after a failover
  std::string refused;                // the last connection pg_hba.conf turned away (hba_refusal.h)
  int sync_required = 0;              // SYNCHRONOUS_REPLICANTS
  bool sync_available = false;        // SYNCHRONOUS_MODE=available
};

struct ReplicantInfo {
  std::string name;     // application_name
  std::string address;  // client address
  std::string state;    // streaming, catchup, backup, ...
  int64_t lag_bytes = -1;
  double lag_seconds = -1;
  std::string sync_state;         // async, potential, sync or quorum
  double reply_age_seconds = -1;  // since its last status message (-1: never)
};

// Synchronous replication on a master as postgres has it now (sync.h);
// what is required is in KeeperState.
struct SyncStatus {
  int asked = 0;            // what synchronous_standby_names asks now (-1: set by hand)
  std::vector<std::string> names;  // the replicants it lets confirm a commit (sync.h)
  std::string commit;       // synchronous_commit
  int waiting_commits = 0;  // commits waiting for replicants to confirm them
};

// A replication slot on this node (pg_replication_slots).
struct SlotInfo {
  std::string name;
  bool active = false;
  std::string replicant;        // application_name streaming through it now, if any
  int64_t retained_bytes = -1;  // WAL it holds back; -1 when it holds none (lost)
  std::string wal_status;       // reserved, extended, unreserved or lost
  bool temporary = false;       // a pg_basebackup's or pg_receivewal's own, gone with it
};

struct Snapshot {
  KeeperState keeper;
  int64_t taken_at_ms = 0;  // wall clock, milliseconds since the epoch
  bool postgres_up = false;
  bool in_recovery = false;
  std::string server_version;
  int timeline = 0;
  std::string current_lsn;   // master: pg_current_wal_lsn()
  std::string received_lsn;  // replicant
  std::string replayed_lsn;  // replicant
  bool streaming = false;    // replicant: the walreceiver streams
  std::string streaming_from;  // replicant, while streaming: the sender's host:port
  // replicant, while streaming: the upstream's flushed WAL as of its last
  // message, and that message's wall-clock time (ms since the epoch)
  std::string upstream_end_lsn;
  int64_t upstream_end_ms = 0;
  int64_t lag_bytes = -1;    // replicant: WAL the master has that is not replayed
  double lag_seconds = -1;   // replicant: age of the last replayed transaction while behind
  std::vector<ReplicantInfo> replicants;  // connected walsenders: our downstreams
  std::vector<SlotInfo> slots;            // physical slots here, for our downstreams
  SyncStatus sync;                        // master only
  // The disk holding PGDATA (-1: not measured).
  int64_t disk_free_bytes = -1;
  int64_t disk_total_bytes = -1;

  // master | replicant | promoted | cloning | starting | stopped
  std::string role() const;
  // True when the node answers queries (reads at least).
  bool serving() const;
};

// Wall-clock milliseconds since the epoch: the clock of taken_at_ms.
int64_t WallClockMs();
// A wall-clock time in ms as "HH:MM:SS.mmm UTC".
std::string UtcTime(int64_t ms);

// The phase a running replicant is in, from what postgres shows.
std::string StandbyPhase(bool in_recovery, bool streaming, bool wal_missing);
// True for the phases of a running replicant (standby, streaming, stalled).
bool IsStandbyPhase(const std::string& phase);
// True when a commit may wait for this replicant (sync or quorum).
bool IsSynchronous(const ReplicantInfo& r);

std::string ToJson(const Snapshot& s);
std::string KeeperStateToJson(const KeeperState& k);
// Parses KeeperStateToJson's output; false on malformed input.
bool KeeperStateFromJson(const std::string& text, KeeperState* k);

// A snapshot with its JSON rendered once: the API answers every request
// from one of these until the snapshot changes (about once a second) instead
// of copying and rendering the snapshot per request.
struct PublishedSnapshot {
  Snapshot snapshot;
  std::string json;  // ToJson(snapshot) + "\n": the body of the API's JSON answers
};
PublishedSnapshot Publish(Snapshot s);

// The human table of `pgkeeper status`.
std::string RenderStatusTable(const Snapshot& s);
// Prometheus text exposition format, version 0.0.4.
std::string RenderMetrics(const Snapshot& s, int64_t now_ms);

std::string FormatBytes(int64_t bytes);

// `pgkeeper health`: kReady is 0 only when the node serves queries; kLive is
// 0 while pgkeeper works normally (also while it waits or clones); kDefault
// is kLive for a replicant that is waiting for its master or cloning (an
// orchestrator must not kill it mid-copy) and kReady otherwise.
enum class HealthMode { kDefault, kReady, kLive };
struct HealthVerdict {
  bool ok = false;
  std::string text;  // "healthy: streaming: streaming from pg-master:5432"
};
HealthVerdict JudgeHealth(const KeeperState& k, bool keeper_alive, bool postgres_accepting,
                          HealthMode mode);

}  // namespace pgkeeper

#endif  // PGKEEPER_SNAPSHOT_H_

// Sample snapshots shared by the unit tests of the router and of snapshot
// rendering. Each is "fresh": taken a quarter second before kNow.
#ifndef PGKEEPER_SNAPSHOT_FIXTURES_H_
#define PGKEEPER_SNAPSHOT_FIXTURES_H_

#include <cstdint>

#include "snapshot.h"

namespace pgkeeper::fixtures {

inline constexpr int64_t kNow = 1'700'000'000'000;  // the reader's wall clock
inline constexpr int64_t kMB = 1024 * 1024;

inline Snapshot Fresh() {
  Snapshot s;
  s.taken_at_ms = kNow - 250;
  s.keeper.pid = 7;
  return s;
}

// A running master with one streaming replicant.
inline Snapshot Master() {
  Snapshot s = Fresh();
  s.keeper.phase = "running";
  s.keeper.message = "master accepting reads and writes";
  s.postgres_up = true;
  s.server_version = "15.6";
  s.timeline = 1;
  s.current_lsn = "0/3000148";
  s.replicants = {{"pg-replicant", "172.18.0.3", "streaming", 0, 0, "async", 0.2}};
  return s;
}

// A replicant streaming from pg-master:5432, this far behind.
inline Snapshot Streaming(int64_t lag_bytes, double lag_seconds) {
  Snapshot s = Fresh();
  s.keeper.phase = "streaming";
  s.keeper.message = "streaming from pg-master:5432";
  s.keeper.configured_replicant = true;
  s.keeper.master = "pg-master:5432";
  s.postgres_up = true;
  s.in_recovery = true;
  s.server_version = "15.6";
  s.timeline = 1;
  s.received_lsn = "0/3000148";
  s.replayed_lsn = "0/3000100";
  s.streaming = true;
  s.lag_bytes = lag_bytes;
  s.lag_seconds = lag_seconds;
  return s;
}

// A replicant copying its master, 350 of 780 MB done.
inline Snapshot Cloning() {
  Snapshot s = Fresh();
  s.keeper.phase = "cloning";
  s.keeper.message = "copying pg-master:5432 with pg_basebackup";
  s.keeper.configured_replicant = true;
  s.keeper.master = "pg-master:5432";
  s.keeper.clone = {true, 350 * kMB, 780 * kMB, 52.0 * kMB, 8.3};
  return s;
}

// A replicant whose master no longer has the WAL it needs.
inline Snapshot Stalled() {
  Snapshot s = Streaming(-1, -1);
  s.keeper.phase = "stalled";
  s.keeper.message =
      "cannot resume: the master pg-master:5432 no longer has WAL this replicant needs";
  s.keeper.wal_missing =
      "FATAL:  could not receive data from WAL stream: ERROR:  requested WAL segment "
      "000000010000000000000003 has already been removed";
  s.streaming = false;
  return s;
}

// A replicant whose disk filled up (DiskWatch, watch.h).
inline Snapshot DiskFull() {
  Snapshot s = Streaming(-1, -1);
  s.keeper.phase = "disk-full";
  s.keeper.message =
      "the disk holding /var/lib/postgresql/data is full (1 MB free of 512 MB): free space on "
      "that volume or give it more room; postgres cannot write the WAL it receives until there "
      "is room, then goes on by itself";
  s.streaming = false;
  s.disk_free_bytes = 4096;
  s.disk_total_bytes = int64_t{512} * 1024 * 1024;
  return s;
}

}  // namespace pgkeeper::fixtures

#endif  // PGKEEPER_SNAPSHOT_FIXTURES_H_

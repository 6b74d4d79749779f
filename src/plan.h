// The decision: what `pgkeeper run` does for a configuration and a data
// directory state, and why. Pure; every combination is unit-tested.
#ifndef PGKEEPER_PLAN_H_
#define PGKEEPER_PLAN_H_

#include <cstdint>
#include <string>

#include "config/config.h"
#include "postgresql/datadir.h"
#include "base/status.h"

namespace pgkeeper {

enum class Action {
  kInitMaster,     // initdb, users, databases, extensions, init scripts; then run
  kStartMaster,    // run the existing master data
  kClone,          // copy the master into an empty data directory; run as standby
  kReclone,        // copy the master beside the existing data, then swap; run as standby
  kResumeStandby,  // run the existing standby data and stream from where it stopped
  kPromote,        // run the existing standby data and promote it
  kRejoin,         // master/promoted data becomes a replicant (ALLOW_REJOIN): report, then
                   // follow, rewind or copy
  kRefuse,         // do nothing; exit with refuse_code
};

struct Plan {
  Action action = Action::kRefuse;
  std::string reason;  // one sentence, logged as "decision: <reason>"
  ExitCode refuse_code = ExitCode::kState;
};

Plan Decide(const Config& config, DataDirState state);

// While a replicant runs: its upstream no longer has WAL it needs (recycled,
// or its slot was invalidated for holding more than WAL_RETAIN_MAX), so it
// cannot resume. What the disk holding PGDATA says:
struct StallFacts {
  int64_t data_bytes = 0;  // the replicant's data now
  int64_t free_bytes = 0;  // still writable beside it
  bool forked = false;     // the upstream's timeline forked off before our position
};
// kReclone when a fresh copy fits beside the data (never destroy first),
// otherwise kRefuse: stay stalled, serving the old data read-only, and say
// how much room is missing and what to do.
Plan DecideStalled(const Config& config, const StallFacts& facts);
// What a fresh copy of data_bytes is expected to take: the data, a tenth
// for growth since, and 64 MB for the WAL streamed during the copy.
int64_t FreshCopyBytes(int64_t data_bytes);
const char* ActionName(Action action);
// Bytes in whole MB, rounded up: "17 MB".
std::string FormatMB(int64_t bytes);

// When postgres exits without being asked to (killed, out of memory, a
// crash PostgreSQL could not recover from in place), pgkeeper starts it
// again in place, after a pause that doubles with each exit, up to
// kMaxRestarts in kRestartWindow; beyond that it exits with postgres' code
// so that the container's restart policy, or a person, takes over.
inline constexpr int kMaxRestarts = 5;
inline constexpr int kRestartWindowMinutes = 10;
// A full disk is the exception: postgres cannot run until a person frees
// space, and starting it again sooner only fails again. pgkeeper waits for
// kDiskResumeBytes free, says so, and does not count the exit.
inline constexpr int64_t kDiskFullBytes = int64_t{16} * 1024 * 1024;    // under one WAL segment
inline constexpr int64_t kDiskResumeBytes = int64_t{64} * 1024 * 1024;  // room to go on
// What the disk holding PGDATA said when postgres exited.
struct DiskFacts {
  std::string path;         // PGDATA
  bool said_full = false;   // postgres logged "No space left on device" since it started
  int64_t free_bytes = -1;  // -1: could not be measured
  int64_t total_bytes = -1;
};
// Full: under kDiskFullBytes free, or under kDiskResumeBytes after postgres
// said so. Never when the disk could not be measured.
bool DiskIsFull(const DiskFacts& disk);
// "the disk holding PATH is full (N MB free of M MB): free space on that
// volume or give it more room"
std::string DiskFullAdvice(const DiskFacts& disk);
struct CrashPlan {
  bool restart = false;
  int delay_ms = 0;
  bool counted = true;           // false: not one of the kMaxRestarts
  int64_t wait_free_bytes = 0;   // > 0: start again only once the disk has this much free
  std::string reason;  // one sentence for the log
};
// crashes: unexpected exits in the last kRestartWindowMinutes, this one
// included (>= 1). how: "signal 9", "exit code 1".
CrashPlan DecideAfterCrash(int crashes, const std::string& how, const DiskFacts& disk = {});

}  // namespace pgkeeper

#endif  // PGKEEPER_PLAN_H_

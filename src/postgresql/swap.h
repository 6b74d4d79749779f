// Replacing the contents of $PGDATA without ever losing the old data before
// the new data is complete. See docs/design.md, "Never destroy before the
// replacement is complete".
#ifndef PGKEEPER_SWAP_H_
#define PGKEEPER_SWAP_H_

#include <string>
#include <vector>

#include "base/status.h"

namespace pgkeeper {

// Which of pgkeeper's swap entries exist in $PGDATA.
struct SwapFacts {
  bool has_new = false;          // .pgkeeper-new: a build in progress (or interrupted)
  bool has_ready = false;        // .pgkeeper-ready: a complete build, not yet moved in
  bool has_old_partial = false;  // .pgkeeper-old.partial: old entries being moved aside
  bool has_old = false;          // .pgkeeper-old: all old entries moved aside
};

enum class SwapStep {
  kRemoveNew,            // discard an incomplete build
  kMoveOldAside,         // move the remaining old entries into .pgkeeper-old.partial
  kCommitOld,            // rename .pgkeeper-old.partial to .pgkeeper-old
  kMoveReadyUp,          // move the remaining ready entries into $PGDATA
  kRemoveReady,          // remove the now empty .pgkeeper-ready
  kRemoveOld,            // delete the old data
  kRestoreOld,           // no ready build: move .pgkeeper-old.partial back
};

// Pure: the steps that bring $PGDATA from these facts to a settled state.
// Idempotent: running a prefix of the steps and planning again converges.
std::vector<SwapStep> PlanSwap(const SwapFacts& facts);
const char* SwapStepName(SwapStep step);

// The directory a new data directory is built in.
std::string StagingDir(const std::string& pgdata);

Status InspectSwap(const std::string& pgdata, SwapFacts* facts);
// Carries out PlanSwap for the current facts. Logs what it does.
Status SettleSwap(const std::string& pgdata);
// Marks the build in StagingDir complete and moves it into place.
Status CommitStaging(const std::string& pgdata);

}  // namespace pgkeeper

#endif  // PGKEEPER_SWAP_H_

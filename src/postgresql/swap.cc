#include "postgresql/swap.h"

#include "postgresql/datadir.h"
#include "base/fs.h"
#include "base/log.h"

namespace pgkeeper {

std::vector<SwapStep> PlanSwap(const SwapFacts& f) {
  std::vector<SwapStep> steps;
  if (f.has_new) steps.push_back(SwapStep::kRemoveNew);
  if (f.has_ready) {
    if (!f.has_old) {
      steps.push_back(SwapStep::kMoveOldAside);
      steps.push_back(SwapStep::kCommitOld);
    }
    steps.push_back(SwapStep::kMoveReadyUp);
    steps.push_back(SwapStep::kRemoveReady);
    steps.push_back(SwapStep::kRemoveOld);
  } else if (f.has_old) {
    steps.push_back(SwapStep::kRemoveOld);
  } else if (f.has_old_partial) {
    steps.push_back(SwapStep::kRestoreOld);
  }
  return steps;
}

const char* SwapStepName(SwapStep step) {
  switch (step) {
    case SwapStep::kRemoveNew: return "remove incomplete build .pgkeeper-new";
    case SwapStep::kMoveOldAside: return "move old data aside";
    case SwapStep::kCommitOld: return "mark old data as moved aside";
    case SwapStep::kMoveReadyUp: return "move new data into place";
    case SwapStep::kRemoveReady: return "remove empty .pgkeeper-ready";
    case SwapStep::kRemoveOld: return "delete old data";
    case SwapStep::kRestoreOld: return "restore old data moved aside without a replacement";
  }
  return "?";
}

std::string StagingDir(const std::string& pgdata) { return JoinPath(pgdata, kStagingNew); }

Status InspectSwap(const std::string& pgdata, SwapFacts* f) {
  *f = SwapFacts();
  f->has_new = Exists(JoinPath(pgdata, kStagingNew));
  f->has_ready = Exists(JoinPath(pgdata, kStagingReady));
  f->has_old_partial = Exists(JoinPath(pgdata, kOldPartial));
  f->has_old = Exists(JoinPath(pgdata, kOld));
  return Status::Ok();
}

namespace {

bool IsSwapEntry(const std::string& name) {
  return name == kStagingNew || name == kStagingReady || name == kOldPartial || name == kOld ||
         name == "lost+found";
}

// Moves every entry of from (except swap entries) into to.
Status MoveEntries(const std::string& from, const std::string& to) {
  std::vector<std::string> names;
  PGK_RETURN_IF_ERROR(ListDir(from, &names));
  for (const auto& name : names) {
    if (IsSwapEntry(name)) continue;
    PGK_RETURN_IF_ERROR(Rename(JoinPath(from, name), JoinPath(to, name)));
  }
  return Status::Ok();
}

Status RunStep(const std::string& pgdata, SwapStep step) {
  const std::string ready = JoinPath(pgdata, kStagingReady);
  const std::string partial = JoinPath(pgdata, kOldPartial);
  const std::string old = JoinPath(pgdata, kOld);
  switch (step) {
    case SwapStep::kRemoveNew: return RemoveTree(JoinPath(pgdata, kStagingNew));
    case SwapStep::kMoveOldAside:
      PGK_RETURN_IF_ERROR(MakeDirs(partial, 0700));
      return MoveEntries(pgdata, partial);
    case SwapStep::kCommitOld: return Rename(partial, old);
    case SwapStep::kMoveReadyUp: return MoveEntries(ready, pgdata);
    case SwapStep::kRemoveReady: return RemoveTree(ready);
    case SwapStep::kRemoveOld: return RemoveTree(old);
    case SwapStep::kRestoreOld:
      PGK_RETURN_IF_ERROR(MoveEntries(partial, pgdata));
      return RemoveTree(partial);
  }
  return Status::Ok();
}

}  // namespace

Status SettleSwap(const std::string& pgdata) {
  SwapFacts facts;
  PGK_RETURN_IF_ERROR(InspectSwap(pgdata, &facts));
  for (SwapStep step : PlanSwap(facts)) {
    LogInfo(std::string("data directory: ") + SwapStepName(step));
    PGK_RETURN_IF_ERROR(RunStep(pgdata, step));
    PGK_RETURN_IF_ERROR(SyncDir(pgdata));
  }
  return Status::Ok();
}

Status CommitStaging(const std::string& pgdata) {
  PGK_RETURN_IF_ERROR(SyncDir(StagingDir(pgdata)));
  PGK_RETURN_IF_ERROR(Rename(StagingDir(pgdata), JoinPath(pgdata, kStagingReady)));
  PGK_RETURN_IF_ERROR(SyncDir(pgdata));
  return SettleSwap(pgdata);
}

}  // namespace pgkeeper

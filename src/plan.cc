#include "plan.h"

#include <algorithm>

namespace pgkeeper {
namespace {

Plan Do(Action action, std::string reason) { return Plan{action, std::move(reason), ExitCode::kOk}; }
Plan Refuse(std::string reason, ExitCode code = ExitCode::kState) {
  return Plan{Action::kRefuse, std::move(reason), code};
}

// How to discard data deliberately; part of every refusal that protects data.
std::string DiscardHint(const Config& c) {
  return "to discard it deliberately, stop the container and delete the contents of " + c.pgdata +
         " (or remove the volume), then start again";
}

Plan RefuseUnusable(const Config& c, DataDirState state) {
  switch (state) {
    case DataDirState::kWrongVersion:
      return Refuse("the data directory " + c.pgdata +
                    " holds another PostgreSQL major version; upgrade it with pg_upgrade or "
                    "use an image of that version; nothing was changed");
    case DataDirState::kHalfMade:
      return Refuse("the data directory " + c.pgdata +
                    " holds half-made PostgreSQL data (no global/pg_control) that pgkeeper did "
                    "not leave; " + DiscardHint(c));
    case DataDirState::kNotPostgres:
      return Refuse("the data directory " + c.pgdata +
                    " holds files but no PG_VERSION, so it is not a PostgreSQL data directory; "
                    "point PGDATA at an empty or PostgreSQL directory, or " + DiscardHint(c));
    default: return Refuse("unexpected data directory state");
  }
}

Plan RefuseRewound(const Config& c) {
  return Refuse("the data directory " + c.pgdata + " holds data that pg_rewind was changing "
                "when it was stopped, which leaves it unusable; set REPLICATE_FROM (and unset "
                "PROMOTE_MASTER) to take a fresh copy of the new master, or " + DiscardHint(c));
}

Plan DecideMaster(const Config& c, DataDirState state) {
  switch (state) {
    case DataDirState::kEmpty:
      return Do(Action::kInitMaster, "initialise a new master: the data directory is empty");
    case DataDirState::kMaster:
      return Do(Action::kStartMaster,
                "start the master from its existing data; re-apply passwords, pg_hba.conf and "
                "settings from the environment");
    case DataDirState::kPromoted:
      return Do(Action::kStartMaster,
                "start as master from a promoted replicant's data (REPLICATE_FROM is not set)");
    case DataDirState::kForeignPostgres:
      return Do(Action::kStartMaster,
                "start as master from existing PostgreSQL " + std::string(kPgMajor) +
                    " data that pgkeeper did not make; first-start steps are skipped");
    case DataDirState::kRewindInterrupted: return RefuseRewound(c);
    case DataDirState::kStandby:
      return Refuse("the data directory holds a replicant's data but REPLICATE_FROM is not "
                    "set; set REPLICATE_FROM to keep following the master, or PROMOTE_MASTER="
                    "True to make this data a master");
    default: return RefuseUnusable(c, state);
  }
}

Plan DecidePromote(const Config& c, DataDirState state) {
  std::string destroy_note =
      c.destroy_on_restart && c.is_replicant()
          ? " (DESTROY_DATABASE_ON_RESTART is ignored while PROMOTE_MASTER is set)"
          : "";
  switch (state) {
    case DataDirState::kStandby:
      return Do(Action::kPromote,
                "promote this replicant's own data to master, whether or not the old master "
                "is reachable" + destroy_note);
    case DataDirState::kPromoted:
      return Do(Action::kStartMaster,
                "start as master: this data was promoted already" + destroy_note);
    case DataDirState::kEmpty:
      return Refuse("PROMOTE_MASTER is set but the data directory is empty, so there is "
                    "nothing to promote; unset PROMOTE_MASTER to clone the master first",
                    ExitCode::kConfig);
    case DataDirState::kRewindInterrupted: return RefuseRewound(c);
    case DataDirState::kMaster:
    case DataDirState::kForeignPostgres:
      return Refuse("PROMOTE_MASTER is set but this data directory already belongs to a "
                    "master, so there is nothing to promote; unset PROMOTE_MASTER",
                    ExitCode::kConfig);
    default: return RefuseUnusable(c, state);
  }
}

Plan DecideReplicant(const Config& c, DataDirState state) {
  const std::string master = c.replicate_from + ":" + std::to_string(c.replicate_port);
  switch (state) {
    case DataDirState::kEmpty:
      return Do(Action::kClone, "clone the master " + master + " into the empty data directory");
    case DataDirState::kStandby:
      if (c.destroy_on_restart) {
        return Do(Action::kReclone,
                  "take a fresh copy of the master " + master +
                      " (DESTROY_DATABASE_ON_RESTART=True); the existing data stays until the "
                      "copy is complete");
      }
      return Do(Action::kResumeStandby,
                "resume streaming from " + master +
                    " with the existing data (DESTROY_DATABASE_ON_RESTART=False)");
    case DataDirState::kPromoted:
    case DataDirState::kMaster:
    case DataDirState::kForeignPostgres:
      if (c.allow_rejoin) {
        return Do(Action::kRejoin,
                  "rejoin " + master + " as a replicant (ALLOW_REJOIN=True): find where its "
                  "history left this node's, report and keep what this node wrote after that "
                  "point, then follow, rewind or copy, whichever costs least");
      }
      if (state == DataDirState::kPromoted) {
        return Refuse("the data directory holds a promoted replicant's data, with writes that "
                      "may exist nowhere else, so it will not be replaced by a copy of " + master +
                      "; set PROMOTE_MASTER=True to keep it as a master, ALLOW_REJOIN=True to "
                      "make it a replicant of " + master + " (what only it holds is reported "
                      "and kept aside), or " + DiscardHint(c));
      }
      return Refuse("the data directory holds a master's data, with writes that may exist "
                    "nowhere else, so it will not be replaced by a copy of " + master +
                    "; unset REPLICATE_FROM to run it as a master, set ALLOW_REJOIN=True to "
                    "make it a replicant of " + master + " (what only it holds is reported and "
                    "kept aside), or " + DiscardHint(c));
    case DataDirState::kRewindInterrupted:
      return Do(Action::kReclone,
                "take a fresh copy of " + master + ": a pg_rewind of this data was stopped "
                "midway, which leaves it unusable (what the rejoin discarded was kept aside "
                "before the rewind began)");
    default: return RefuseUnusable(c, state);
  }
}

}  // namespace

std::string FormatMB(int64_t bytes) {
  return std::to_string((bytes + 1024 * 1024 - 1) / (1024 * 1024)) + " MB";
}

Plan Decide(const Config& c, DataDirState state) {
  if (c.promote_master) return DecidePromote(c, state);
  if (c.is_replicant()) return DecideReplicant(c, state);
  return DecideMaster(c, state);
}

int64_t FreshCopyBytes(int64_t data_bytes) {
  return data_bytes + data_bytes / 10 + int64_t{64} * 1024 * 1024;
}

Plan DecideStalled(const Config& c, const StallFacts& f) {
  const std::string master = c.replicate_from + ":" + std::to_string(c.replicate_port);
  const int64_t need = FreshCopyBytes(f.data_bytes);
  const std::string sizes = "about " + FormatMB(need) + " needed beside the " +
                            FormatMB(f.data_bytes) + " of data, " + FormatMB(f.free_bytes) +
                            " free";
  const std::string why = f.forked ? "its timeline forked off before the position this "
                                     "replicant has replayed"
                                   : "it no longer has WAL this replicant needs";
  if (f.free_bytes >= need) {
    return Do(Action::kReclone, "take a fresh copy of " + master + ": " + why + " (" + sizes +
                                    "); the existing data stays until the copy is complete");
  }
  return Refuse("cannot take a fresh copy of " + master + " although " + why +
                    ": the disk holding " +
                    c.pgdata + " cannot hold two copies (" + sizes +
                    "); give it more room (pgkeeper checks again every 30 s), or " +
                    DiscardHint(c) + " to copy into the emptied directory",
                ExitCode::kState);
}

bool DiskIsFull(const DiskFacts& disk) {
  return disk.free_bytes >= 0 && disk.free_bytes < kDiskResumeBytes &&
         (disk.said_full || disk.free_bytes < kDiskFullBytes);
}

std::string DiskFullAdvice(const DiskFacts& disk) {
  return "the disk holding " + disk.path + " is full (" + FormatMB(disk.free_bytes) + " free" +
         (disk.total_bytes > 0 ? " of " + FormatMB(disk.total_bytes) : std::string()) +
         "): free space on that volume or give it more room";
}

CrashPlan DecideAfterCrash(int crashes, const std::string& how, const DiskFacts& disk) {
  CrashPlan p;
  if (DiskIsFull(disk)) {
    p.restart = true;
    p.counted = false;
    p.wait_free_bytes = kDiskResumeBytes;
    p.reason = "postgres stopped (" + how + ") because " + DiskFullAdvice(disk) +
               "; pgkeeper starts postgres again by itself once " + FormatMB(kDiskResumeBytes) +
               " are free (a full disk does not count toward the restart limit)";
    return p;
  }
  const std::string window = " in " + std::to_string(kRestartWindowMinutes) + " minutes";
  if (crashes > kMaxRestarts) {
    p.reason = "postgres exited unexpectedly (" + how + ") for the " + std::to_string(crashes) +
               "th time" + window + "; giving up, so that the container's restart policy (or a "
               "person) takes over: look at postgres' last lines above";
    return p;
  }
  p.restart = true;
  p.delay_ms = std::min(16000, 1000 << (crashes - 1));
  p.reason = "postgres exited unexpectedly (" + how + "); starting it again in place in " +
             std::to_string(p.delay_ms / 1000) + " s (restart " + std::to_string(crashes) +
             " of at most " + std::to_string(kMaxRestarts) + window + ")";
  return p;
}

const char* ActionName(Action action) {
  switch (action) {
    case Action::kInitMaster: return "init-master";
    case Action::kStartMaster: return "start-master";
    case Action::kClone: return "clone";
    case Action::kReclone: return "reclone";
    case Action::kResumeStandby: return "resume-standby";
    case Action::kPromote: return "promote";
    case Action::kRejoin: return "rejoin";
    case Action::kRefuse: return "refuse";
  }
  return "?";
}

}  // namespace pgkeeper

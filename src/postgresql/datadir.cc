#include "postgresql/datadir.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "config/config.h"
#include "base/fs.h"
#include "base/values.h"

namespace pgkeeper {
namespace {

bool IsIgnoredEntry(const std::string& name) {
  return name == "." || name == ".." || name == "lost+found" || name == kStagingNew ||
         name == kStagingReady || name == kOldPartial || name == kOld;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

std::optional<std::string> StateValue(const std::string& content, const std::string& key) {
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos && line.substr(0, eq) == key) return Trim(line.substr(eq + 1));
  }
  return std::nullopt;
}

DataDirState Classify(const DataDirFacts& f) {
  if (!f.exists || f.entries.empty()) return DataDirState::kEmpty;
  if (!f.pg_version) return DataDirState::kNotPostgres;
  if (*f.pg_version != kPgMajor) return DataDirState::kWrongVersion;
  if (!f.has_pg_control) return DataDirState::kHalfMade;
  if (f.rewind_interrupted) return DataDirState::kRewindInterrupted;
  if (f.has_standby_signal) return DataDirState::kStandby;
  if (f.origin == "init") return DataDirState::kMaster;
  if (f.origin == "promoted" || f.origin == "clone") return DataDirState::kPromoted;
  return DataDirState::kForeignPostgres;
}

std::string Describe(DataDirState state, const DataDirFacts& f) {
  switch (state) {
    case DataDirState::kEmpty: return "empty";
    case DataDirState::kMaster: return "a master's data made by pgkeeper";
    case DataDirState::kStandby: return "a replicant's (standby) data";
    case DataDirState::kPromoted: return "a promoted replicant's data, which accepts writes";
    case DataDirState::kForeignPostgres:
      return "PostgreSQL " + std::string(kPgMajor) + " data that pgkeeper did not make";
    case DataDirState::kWrongVersion:
      return "PostgreSQL " + f.pg_version.value_or("?") + " data (this image runs " + kPgMajor +
             ")";
    case DataDirState::kHalfMade: return "half-made PostgreSQL data (no global/pg_control)";
    case DataDirState::kRewindInterrupted:
      return "data that pg_rewind was changing when it was stopped (the marker "
             "$PGDATA.pgkeeper/rewinding exists)";
    case DataDirState::kNotPostgres: return "files that are not a PostgreSQL data directory";
  }
  return "unknown";
}

std::string RejoinDir(const std::string& pgdata) { return pgdata + ".pgkeeper"; }
std::string RewindMarkerPath(const std::string& pgdata) { return RejoinDir(pgdata) + "/rewinding"; }

Status WriteState(const std::string& datadir, const std::string& origin) {
  return WriteFileAtomic(JoinPath(datadir, kStateFile),
                         "# Written by pgkeeper: how this data directory was made.\norigin=" +
                             origin + "\n",
                         0600);
}

Status InspectDataDir(const std::string& pgdata, DataDirFacts* f) {
  *f = DataDirFacts();
  DIR* dir = ::opendir(pgdata.c_str());
  if (!dir) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("cannot read data directory " + pgdata, errno);
  }
  f->exists = true;
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (!IsIgnoredEntry(name)) f->entries.push_back(name);
  }
  ::closedir(dir);
  std::sort(f->entries.begin(), f->entries.end());
  std::string content;
  if (ReadWholeFile(pgdata + "/PG_VERSION", &content).ok()) f->pg_version = Trim(content);
  f->has_pg_control = PathExists(pgdata + "/global/pg_control");
  f->has_standby_signal = PathExists(pgdata + "/standby.signal");
  f->rewind_interrupted = PathExists(RewindMarkerPath(pgdata));
  if (ReadWholeFile(pgdata + "/" + kStateFile, &content).ok()) {
    f->origin = StateValue(content, "origin");
  }
  return Status::Ok();
}

}  // namespace pgkeeper

// Data directory inspection and classification.
#ifndef PGKEEPER_DATADIR_H_
#define PGKEEPER_DATADIR_H_

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace pgkeeper {

// Names pgkeeper itself keeps in $PGDATA.
inline constexpr const char kStateFile[] = "pgkeeper.state";
inline constexpr const char kStagingNew[] = ".pgkeeper-new";
inline constexpr const char kStagingReady[] = ".pgkeeper-ready";
inline constexpr const char kOldPartial[] = ".pgkeeper-old.partial";
inline constexpr const char kOld[] = ".pgkeeper-old";
inline constexpr const char kPgMajor[] = "15";

// Facts read off the data directory; no interpretation.
struct DataDirFacts {
  bool exists = false;
  // Top-level entries, without pgkeeper's swap entries and lost+found.
  std::vector<std::string> entries;
  std::optional<std::string> pg_version;  // PG_VERSION, trimmed
  bool has_pg_control = false;            // global/pg_control
  bool has_standby_signal = false;
  std::optional<std::string> origin;      // "origin" from pgkeeper.state
  bool rewind_interrupted = false;        // RewindMarkerPath exists
};

enum class DataDirState {
  kEmpty,            // missing or no entries
  kMaster,           // made by pgkeeper's initdb
  kStandby,          // has standby.signal
  kPromoted,         // a former standby that now accepts writes
  kForeignPostgres,  // PostgreSQL 15 data that pgkeeper did not make
  kRewindInterrupted,  // pg_rewind was stopped midway: the data is not usable
  kWrongVersion,     // PostgreSQL data of another major version
  kHalfMade,         // PG_VERSION but no pg_control: an interrupted tool
  kNotPostgres,      // files, but not a PostgreSQL data directory
};

DataDirState Classify(const DataDirFacts& facts);
// A short phrase for logs: "empty", "a standby's data", ...
std::string Describe(DataDirState state, const DataDirFacts& facts);

// Reads facts from disk. A missing directory is not an error.
Status InspectDataDir(const std::string& pgdata, DataDirFacts* facts);

// Beside PGDATA, not in it (pg_rewind makes PGDATA match its source and a
// clone replaces it): what a rejoin keeps, made at start when ALLOW_REJOIN
// is set. Holds the rewind marker and the discarded-<time> folders.
std::string RejoinDir(const std::string& pgdata);
// Present while pg_rewind runs on PGDATA.
std::string RewindMarkerPath(const std::string& pgdata);

// Records how the data in datadir was made ("init", "clone", "promoted").
Status WriteState(const std::string& datadir, const std::string& origin);

// Parses pgkeeper.state ("key=value" lines) and returns the value of key.
std::optional<std::string> StateValue(const std::string& content, const std::string& key);

}  // namespace pgkeeper

#endif  // PGKEEPER_DATADIR_H_

// Progress of a clone, read from pg_basebackup's --progress lines. Pure.
#ifndef PGKEEPER_PROGRESS_H_
#define PGKEEPER_PROGRESS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "snapshot.h"

namespace pgkeeper {

struct BasebackupProgress {
  int64_t done_kb = 0;
  int64_t total_kb = 0;
};

// Parses "  1234/56789 kB (2%), 0/1 tablespace (...)"; nullopt for other lines.
std::optional<BasebackupProgress> ParseBasebackupProgress(const std::string& line);

// Turns successive progress readings into rate and time left.
class CloneProgressTracker {
 public:
  explicit CloneProgressTracker(int64_t start_ms) : start_ms_(start_ms) {}
  CloneProgress Update(const BasebackupProgress& p, int64_t now_ms);
  // One log line: "clone progress: 45.0% (350.0 MB of 780.0 MB) at 52.1 MB/s, about 8 s left".
  static std::string Describe(const CloneProgress& c);

 private:
  int64_t start_ms_;
};

}  // namespace pgkeeper

#endif  // PGKEEPER_PROGRESS_H_

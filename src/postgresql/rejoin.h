// Rejoin: a node holding master (or promoted) data becomes a replicant of
// the new master, with ALLOW_REJOIN=True. Its writes after the point where
// the new master's history left its own (the fork point) exist nowhere else:
// they are reported (LSN range, bytes, committed transactions, tables) and
// their WAL is kept in a dated folder beside the data before anything is
// changed. Then the cheapest safe path: follow as is (nothing to discard),
// pg_rewind, or a fresh copy beside the data.
//
// This file holds the pure part: LSNs, timeline histories, the fork point,
// pg_controldata and pg_waldump output, the cost choice and the report.
#ifndef PGKEEPER_REJOIN_H_
#define PGKEEPER_REJOIN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pgkeeper {

using Lsn = uint64_t;
// "16/B374D848" <-> 0x16B374D848.
bool ParseLsn(const std::string& text, Lsn* lsn);
std::string FormatLsn(Lsn lsn);

// One line of a timeline history file: timeline `tli` was left at `end`.
struct HistoryEntry {
  int tli = 0;
  Lsn end = 0;
};
// Parses a NNNNNNNN.history file (comments and blank lines skipped).
std::vector<HistoryEntry> ParseHistory(const std::string& text);

// Where two servers' histories part. Each is its current timeline and the
// history file of that timeline (empty for timeline 1).
struct Fork {
  bool diverged = false;  // false: one history is a prefix of the other
  int tli = 0;            // the last timeline both followed
  Lsn lsn = 0;            // where they part
};
Fork FindFork(int local_tli, const std::vector<HistoryEntry>& local_history, int upstream_tli,
              const std::vector<HistoryEntry>& upstream_history);

// What pg_controldata prints that rejoin needs.
struct ControlData {
  std::string system_id;
  std::string state;  // "shut down", "in production", "shut down in recovery", ...
  int tli = 0;        // of the latest checkpoint
  Lsn checkpoint = 0;
  int64_t wal_segment_bytes = 16 * 1024 * 1024;
};
// The name of the WAL segment file holding lsn on timeline tli.
std::string WalFileName(int tli, Lsn lsn, int64_t segment_bytes);
// How much of the segment holding end (the end of valid WAL) is worth
// keeping: up to the end of the 8 kB WAL page holding end; what lies after
// it is a recycled segment's old contents or zeros, never a record.
int64_t WalHeadBytes(Lsn end, int64_t segment_bytes);
bool ParseControlData(const std::string& text, ControlData* out);

// The head of global/pg_control as PostgreSQL 15 lays it out (pg_control.h,
// PG_CONTROL_VERSION 1300, in the host's byte order): the version at bytes
// 8-11, the cluster state at 16-19 (1: shut down), the latest checkpoint at
// 32-39. For watching a stopping server without starting pg_controldata
// every few milliseconds. False for fewer bytes or another version (then
// pg_controldata it is).
struct ControlHead {
  bool shut_down = false;
  Lsn checkpoint = 0;
};
bool ParseControlHead(const std::string& bytes, ControlHead* out);

// What pg_waldump says about the WAL from the fork point to the end.
struct WalSummary {
  Lsn end = 0;  // end of valid WAL (0: pg_waldump found no record)
  int commits = 0;
  int aborts = 0;
  std::string last_commit_time;
  // (database OID, relfilenode) of user relations that heap records touched.
  std::vector<std::pair<uint32_t, uint32_t>> relations;
};
WalSummary SummarizeWaldump(const std::vector<std::string>& lines);
// The same, a line at a time (pg_waldump can print millions).
class WalSummarizer {
 public:
  void Add(const std::string& line);
  WalSummary Result() const;

 private:
  WalSummary s_;
  std::vector<std::pair<uint32_t, uint32_t>> rels_;  // kept sorted and unique
};

enum class RejoinPath {
  kFollow,  // nothing to discard: start as a replicant, follow the new timeline
  kRewind,  // pg_rewind from the new master
  kClone,   // a fresh copy beside the data
};
const char* RejoinPathName(RejoinPath path);

struct RejoinCosts {
  int64_t data_bytes = 0;          // what a copy moves: the new master's databases
  int64_t local_since_fork = 0;    // local WAL after the fork point
  int64_t upstream_since_fork = 0; // the new master's WAL after the fork point
};
struct RejoinChoice {
  RejoinPath path = RejoinPath::kClone;
  std::string reason;
};
// pg_rewind copies the blocks changed on either side since the fork (at
// most about the WAL written there) plus every non-relation file and the WAL
// from the last common checkpoint; a copy moves all of the new master's data.
RejoinChoice ChooseRejoinPath(const RejoinCosts& costs);
// What pg_rewind is expected to move: both sides' WAL since the fork and a
// fixed 16 MB for the files it always copies (measured on small clusters in
// bench figure 10: raw pg_rewind beats a copy there by about 2x).
int64_t RewindBytes(const RejoinCosts& costs);

// The discard report: one paragraph, for the log, the state file and the
// report file in the saved folder. names maps "db/relfilenode" to a table
// name where the new master knows it.
struct DiscardReport {
  std::string upstream;  // host:port of the new master
  Fork fork;
  int local_tli = 0;
  WalSummary wal;
  std::map<std::string, std::string> names;
  std::string saved_to;  // folder holding the discarded WAL
};
std::string RenderDiscardReport(const DiscardReport& r);

}  // namespace pgkeeper

#endif  // PGKEEPER_REJOIN_H_

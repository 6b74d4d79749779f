#include "postgresql/rejoin.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <regex>
#include <sstream>

#include "base/values.h"

namespace pgkeeper {
namespace {

constexpr Lsn kNoEnd = std::numeric_limits<Lsn>::max();
constexpr uint32_t kFirstNormalObjectId = 16384;

std::string Mb(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

bool ParseLsn(const std::string& text, Lsn* lsn) {
  unsigned int hi = 0, lo = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%X/%X%c", &hi, &lo, &tail) != 2) return false;
  *lsn = (static_cast<Lsn>(hi) << 32) | lo;
  return true;
}

std::string FormatLsn(Lsn lsn) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

std::vector<HistoryEntry> ParseHistory(const std::string& text) {
  std::vector<HistoryEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    HistoryEntry e;
    std::string lsn;
    if (!(fields >> e.tli >> lsn) || !ParseLsn(lsn, &e.end)) continue;
    out.push_back(e);
  }
  return out;
}

Fork FindFork(int local_tli, const std::vector<HistoryEntry>& local_history, int upstream_tli,
              const std::vector<HistoryEntry>& upstream_history) {
  // Each side as a line of segments: timeline tli until end.
  std::vector<HistoryEntry> a = local_history, b = upstream_history;
  a.push_back({local_tli, kNoEnd});
  b.push_back({upstream_tli, kNoEnd});
  Fork f;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].tli != b[i].tli) {
      f.diverged = true;
      f.tli = i == 0 ? 0 : a[i - 1].tli;
      f.lsn = i == 0 ? 0 : a[i - 1].end;
      return f;
    }
    f.tli = a[i].tli;
    if (a[i].end != b[i].end) {
      f.diverged = true;
      f.lsn = std::min(a[i].end, b[i].end);
      return f;
    }
    if (a[i].end == kNoEnd) return f;  // the same line all along
  }
  return f;
}

bool ParseControlHead(const std::string& bytes, ControlHead* out) {
  constexpr uint32_t kVersion = 1300;
  constexpr uint32_t kShutDown = 1;  // DB_SHUTDOWNED
  if (bytes.size() < 40) return false;
  uint32_t version = 0, state = 0;
  uint64_t checkpoint = 0;
  std::memcpy(&version, bytes.data() + 8, sizeof(version));
  std::memcpy(&state, bytes.data() + 16, sizeof(state));
  std::memcpy(&checkpoint, bytes.data() + 32, sizeof(checkpoint));
  if (version != kVersion) return false;
  out->shut_down = state == kShutDown;
  out->checkpoint = checkpoint;
  return true;
}

bool ParseControlData(const std::string& text, ControlData* out) {
  ControlData c;
  std::istringstream in(text);
  std::string line;
  bool have_lsn = false;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = Trim(line.substr(0, colon));
    std::string value = Trim(line.substr(colon + 1));
    if (key == "Database system identifier") c.system_id = value;
    if (key == "Database cluster state") c.state = value;
    if (key == "Latest checkpoint's TimeLineID") c.tli = std::atoi(value.c_str());
    if (key == "Latest checkpoint location") have_lsn = ParseLsn(value, &c.checkpoint);
    if (key == "Bytes per WAL segment") c.wal_segment_bytes = std::atoll(value.c_str());
  }
  if (c.system_id.empty() || c.tli <= 0 || !have_lsn) return false;
  *out = c;
  return true;
}

void WalSummarizer::Add(const std::string& line) {
  static const std::regex kRecord(
      R"(^rmgr: (\S+)\s+len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*\d+, lsn: ([0-9A-F]+/[0-9A-F]+),.*desc: (\S+)(.*)$)");
  static const std::regex kRel(R"(rel (\d+)/(\d+)/(\d+))");
  if (line.rfind("rmgr: ", 0) != 0) return;
  std::smatch m;
  if (!std::regex_match(line, m, kRecord)) return;
  const std::string rmgr = m[1], desc = m[4], rest = m[5];
  Lsn lsn = 0;
  if (!ParseLsn(m[3], &lsn)) return;
  Lsn end = lsn + std::stoull(m[2]);
  s_.end = std::max(s_.end, (end + 7) & ~Lsn{7});  // records are 8-byte aligned
  if (rmgr == "Transaction") {
    if (desc == "COMMIT" || desc == "COMMIT_PREPARED") {
      ++s_.commits;
      s_.last_commit_time = Trim(rest.substr(0, rest.find(';')));
    } else if (desc == "ABORT" || desc == "ABORT_PREPARED") {
      ++s_.aborts;
    }
  } else if (rmgr == "Heap" || rmgr == "Heap2") {
    for (std::sregex_iterator it(rest.begin(), rest.end(), kRel), e; it != e; ++it) {
      uint32_t db = static_cast<uint32_t>(std::stoul((*it)[2]));
      uint32_t node = static_cast<uint32_t>(std::stoul((*it)[3]));
      if (db == 0 || node < kFirstNormalObjectId) continue;
      std::pair<uint32_t, uint32_t> rel{db, node};
      auto pos = std::lower_bound(rels_.begin(), rels_.end(), rel);
      if (pos == rels_.end() || *pos != rel) rels_.insert(pos, rel);
    }
  }
}

WalSummary WalSummarizer::Result() const {
  WalSummary s = s_;
  s.relations = rels_;
  return s;
}

WalSummary SummarizeWaldump(const std::vector<std::string>& lines) {
  WalSummarizer w;
  for (const auto& line : lines) w.Add(line);
  return w.Result();
}

std::string WalFileName(int tli, Lsn lsn, int64_t segment_bytes) {
  const uint64_t per_id = 0x100000000ull / static_cast<uint64_t>(segment_bytes);
  const uint64_t segno = lsn / static_cast<uint64_t>(segment_bytes);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%08X%08X%08X", static_cast<unsigned>(tli),
                static_cast<unsigned>(segno / per_id), static_cast<unsigned>(segno % per_id));
  return buf;
}

int64_t WalHeadBytes(Lsn end, int64_t segment_bytes) {
  constexpr int64_t kWalPage = 8192;  // XLOG_BLCKSZ of Debian's build
  const int64_t offset = static_cast<int64_t>(end % static_cast<uint64_t>(segment_bytes));
  return std::min(segment_bytes, (offset + kWalPage - 1) / kWalPage * kWalPage);
}

const char* RejoinPathName(RejoinPath path) {
  switch (path) {
    case RejoinPath::kFollow: return "follow";
    case RejoinPath::kRewind: return "rewind";
    case RejoinPath::kClone: return "clone";
  }
  return "?";
}

int64_t RewindBytes(const RejoinCosts& c) {
  return c.local_since_fork + c.upstream_since_fork + int64_t{16} * 1024 * 1024;
}

RejoinChoice ChooseRejoinPath(const RejoinCosts& c) {
  if (c.local_since_fork <= 0) {
    return {RejoinPath::kFollow,
            "nothing to discard: this node's WAL ends at the fork point, so it follows the new "
            "timeline as it is, without pg_rewind or a copy"};
  }
  const int64_t rewind = RewindBytes(c);
  const std::string sizes = "pg_rewind moves about " + Mb(rewind) + " (WAL since the fork: " +
                            Mb(c.local_since_fork) + " here, " + Mb(c.upstream_since_fork) +
                            " on the new master, and 16 MB of files it always copies), a copy " +
                            Mb(c.data_bytes);
  if (rewind < c.data_bytes) return {RejoinPath::kRewind, "rewind: " + sizes};
  return {RejoinPath::kClone, "copy: " + sizes};
}

std::string RenderDiscardReport(const DiscardReport& r) {
  const WalSummary& w = r.wal;
  if (w.end <= r.fork.lsn) {
    return "rejoining " + r.upstream + " discards nothing: this node's WAL ends at " +
           FormatLsn(w.end == 0 ? r.fork.lsn : w.end) + ", at or before the fork point " +
           FormatLsn(r.fork.lsn);
  }
  std::string tables;
  for (const auto& [db, node] : w.relations) {
    std::string key = std::to_string(db) + "/" + std::to_string(node);
    auto it = r.names.find(key);
    std::string name = it != r.names.end() ? it->second
                                           : "relation " + key + " (unknown to the new master)";
    tables += (tables.empty() ? "" : ", ") + name;
  }
  std::string text = "rejoining " + r.upstream + " discards this node's WAL after the fork point: " +
                     FormatLsn(r.fork.lsn) + " to " + FormatLsn(w.end) + " on timeline " +
                     std::to_string(r.local_tli) + " (" + std::to_string(w.end - r.fork.lsn) +
                     " bytes), with " + std::to_string(w.commits) + " committed transaction" +
                     (w.commits == 1 ? "" : "s");
  if (!w.last_commit_time.empty()) text += " (the last at " + w.last_commit_time + ")";
  if (w.aborts > 0) text += " and " + std::to_string(w.aborts) + " aborted";
  text += tables.empty() ? "; no user table was written" : "; tables written: " + tables;
  if (!r.saved_to.empty()) text += "; that WAL is kept in " + r.saved_to;
  return text;
}

}  // namespace pgkeeper

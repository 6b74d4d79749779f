#include "postgresql/progress.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace pgkeeper {

std::optional<BasebackupProgress> ParseBasebackupProgress(const std::string& line) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  auto number = [&](int64_t* out) {
    size_t start = i;
    int64_t v = 0;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])) && i - start < 18) {
      v = v * 10 + (line[i] - '0');
      ++i;
    }
    *out = v;
    return i > start;
  };
  BasebackupProgress p;
  if (!number(&p.done_kb) || i >= line.size() || line[i] != '/') return std::nullopt;
  ++i;
  if (!number(&p.total_kb) || line.compare(i, 5, " kB (") != 0) return std::nullopt;
  return p;
}

CloneProgress CloneProgressTracker::Update(const BasebackupProgress& p, int64_t now_ms) {
  CloneProgress c;
  c.active = true;
  c.done_bytes = p.done_kb * 1024;
  // pg_basebackup's total is an estimate and the copy may outgrow it.
  c.total_bytes = std::max(p.total_kb, p.done_kb) * 1024;
  double elapsed = static_cast<double>(now_ms - start_ms_) / 1000.0;
  if (elapsed > 0.2) {
    c.rate_bytes_per_s = static_cast<double>(c.done_bytes) / elapsed;
    if (c.rate_bytes_per_s > 0) {
      c.eta_seconds = static_cast<double>(c.total_bytes - c.done_bytes) / c.rate_bytes_per_s;
    }
  }
  return c;
}

std::string CloneProgressTracker::Describe(const CloneProgress& c) {
  char buf[200];
  std::string eta = c.eta_seconds < 0 ? "time left unknown"
                                      : "about " + std::to_string(static_cast<int64_t>(c.eta_seconds + 0.5)) + " s left";
  snprintf(buf, sizeof(buf), "clone progress: %.1f%% (%s of %s) at %s/s, %s", c.percent(),
           FormatBytes(c.done_bytes).c_str(), FormatBytes(c.total_bytes).c_str(),
           FormatBytes(static_cast<int64_t>(c.rate_bytes_per_s)).c_str(), eta.c_str());
  return buf;
}

}  // namespace pgkeeper

#include "sync.h"

#include <algorithm>

namespace pgkeeper {

std::string StandbyNamesFor(int n) {
  return n > 0 ? "ANY " + std::to_string(n) + " (*)" : "";
}

int ParseStandbyNames(const std::string& value) {
  if (value.empty()) return 0;
  for (int n = 1; n <= 10; ++n) {
    if (value == StandbyNamesFor(n)) return n;
  }
  return -1;
}

int CountSyncCandidates(const std::vector<ReplicantInfo>& replicants) {
  return static_cast<int>(std::count_if(replicants.begin(), replicants.end(), [](const auto& r) {
    return r.state == "streaming" && r.name != "pg_basebackup" && r.reply_age_seconds >= 0 &&
           r.reply_age_seconds <= kSyncReplyMaxAgeSeconds;
  }));
}

namespace {
std::string Asked(int n) {
  if (n == 0) return "off (commits wait for no replicant)";
  return "ANY " + std::to_string(n) + " (commits wait for " + std::to_string(n) +
         (n == 1 ? " replicant)" : " replicants)");
}
}  // namespace

SyncDecision DecideSync(int required, bool available, int candidates, int current) {
  SyncDecision d;
  d.replicants = available ? std::min(required, std::max(candidates, 0)) : required;
  d.change = d.replicants != current;
  if (!d.change) return d;
  const std::string streaming = std::to_string(candidates) + " of " + std::to_string(required) +
                                " required replicants " + (candidates == 1 ? "streams" : "stream");
  if (!available) {
    d.reason = "synchronous replication set to " + Asked(d.replicants) +
               " (SYNCHRONOUS_MODE=strict: commits wait while fewer replicants stream)";
  } else if (d.replicants < current) {
    d.reason = "synchronous replication lowered to " + Asked(d.replicants) + ": only " +
               streaming + " (SYNCHRONOUS_MODE=available); commits acknowledged from now on " +
               "may exist on fewer than " + std::to_string(required + 1) + " nodes";
  } else {
    d.reason = "synchronous replication raised to " + Asked(d.replicants) + ": " + streaming +
               (d.replicants == required ? " again" : "") + " (SYNCHRONOUS_MODE=available)";
  }
  return d;
}

int InitialSyncReplicants(int required, bool available) { return available ? 0 : required; }

}  // namespace pgkeeper

#include "postgresql/sync.h"

#include <algorithm>
#include <cctype>

#include "base/values.h"

namespace pgkeeper {

std::string StandbyNamesFor(const StandbyList& list) {
  if (list.n <= 0) return "";
  std::string out = "ANY " + std::to_string(list.n) + " (";
  if (list.names.empty()) return out + "\"" + kNoReplicantName + "\")";
  for (size_t i = 0; i < list.names.size(); ++i) {
    out += (i ? ", \"" : "\"") + list.names[i] + "\"";
  }
  return out + ")";
}

namespace {
// A name as StandbyNamesFor quotes it: "name" with letters, digits and '_'.
bool TakeQuotedName(const std::string& s, size_t* pos, std::string* name) {
  if (*pos >= s.size() || s[*pos] != '"') return false;
  size_t end = s.find('"', *pos + 1);
  if (end == std::string::npos || end == *pos + 1) return false;
  *name = s.substr(*pos + 1, end - *pos - 1);
  *pos = end + 1;
  return *name == kNoReplicantName ||
         std::all_of(name->begin(), name->end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_';
         });
}
}  // namespace

StandbyList ParseStandbyNames(const std::string& value) {
  if (value.empty()) return {};
  const StandbyList by_hand{-1, {}};
  if (value.rfind("ANY ", 0) != 0) return by_hand;
  size_t pos = 4;
  int n = 0;
  while (pos < value.size() && std::isdigit(static_cast<unsigned char>(value[pos])) && n < 1000) {
    n = n * 10 + (value[pos++] - '0');
  }
  if (n <= 0 || value.compare(pos, 2, " (") != 0) return by_hand;
  pos += 2;
  StandbyList list{n, {}};
  for (;;) {
    std::string name;
    if (!TakeQuotedName(value, &pos, &name)) return by_hand;
    if (name != kNoReplicantName) list.names.push_back(name);
    if (value.compare(pos, 2, ", ") == 0) {
      pos += 2;
      continue;
    }
    if (pos + 1 == value.size() && value[pos] == ')') break;
    return by_hand;
  }
  // Only pgkeeper's own form: the placeholder alone, or sorted names.
  if (list.names.empty() != (value.find(kNoReplicantName) != std::string::npos) ||
      !std::is_sorted(list.names.begin(), list.names.end())) {
    return by_hand;
  }
  return list;
}

std::vector<std::string> EligibleReplicants(const std::vector<SlotInfo>& slots) {
  std::vector<std::string> names;
  for (const auto& s : slots) {
    if (!s.temporary) names.push_back(s.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

int CountSyncCandidates(const std::vector<ReplicantInfo>& replicants,
                        const std::vector<std::string>& names) {
  return static_cast<int>(std::count_if(replicants.begin(), replicants.end(), [&](const auto& r) {
    return r.state == "streaming" && IsListed(r.name, names) && r.reply_age_seconds >= 0 &&
           r.reply_age_seconds <= kSyncReplyMaxAgeSeconds;
  }));
}

namespace {
std::string Asked(int n) {
  if (n == 0) return "off (commits wait for no replicant)";
  return "ANY " + std::to_string(n) + " (commits wait for " + std::to_string(n) +
         (n == 1 ? " replicant)" : " replicants)");
}

std::string CountReason(int required, bool available, int candidates, int want, int current) {
  const std::string streaming = std::to_string(candidates) + " of " + std::to_string(required) +
                                " required replicants " + (candidates == 1 ? "streams" : "stream");
  if (!available) {
    return "synchronous replication set to " + Asked(want) +
           " (SYNCHRONOUS_MODE=strict: commits wait while fewer replicants stream)";
  }
  if (want < current) {
    return "synchronous replication lowered to " + Asked(want) + ": only " + streaming +
           " (SYNCHRONOUS_MODE=available); commits acknowledged from now on may exist on fewer "
           "than " + std::to_string(required + 1) + " nodes";
  }
  return "synchronous replication raised to " + Asked(want) + ": " + streaming +
         (want == required ? " again" : "") + " (SYNCHRONOUS_MODE=available)";
}
}  // namespace

SyncDecision DecideSync(int required, bool available, const std::vector<std::string>& eligible,
                        int candidates, const StandbyList& current) {
  SyncDecision d;
  d.list.n = available ? std::min(required, std::max(candidates, 0)) : required;
  // Nothing asked, nobody to name: "" either way.
  if (d.list.n > 0) d.list.names = eligible;
  d.change = d.list != current;
  if (!d.change) return d;
  if (d.list.n != current.n) {
    d.reason = CountReason(required, available, candidates, d.list.n, current.n);
  }
  if (d.list.n > 0 && d.list.names != current.names) {
    d.reason += std::string(d.reason.empty() ? "" : "; ") +
                "replicants that may confirm a commit: " +
                JoinList(d.list.names, "none (no replicant has a slot here yet)") +
                " (this node's replication slots; a clone's stream or any other connection " +
                "never counts)";
  }
  return d;
}

StandbyList InitialSyncList(int required, bool available) {
  return StandbyList{available ? 0 : required, {}};
}

}  // namespace pgkeeper

#include "postgresql/promote.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "snapshot.h"
#include "postgresql/sync.h"
#include "base/values.h"

namespace pgkeeper {

using json = nlohmann::json;

namespace {

std::string Bytes(int64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace

std::string RenderHeard(const Heard& h) {
  return json{{"upstream", h.upstream}, {"end", FormatLsn(h.end)}, {"at_ms", h.at_ms}}.dump() + "\n";
}

bool ParseHeard(const std::string& text, Heard* h) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("end") || !j["end"].is_string()) return false;
  Heard out;
  out.upstream = j.value("upstream", "");
  out.at_ms = j.value("at_ms", int64_t{0});
  if (!ParseLsn(j["end"].get<std::string>(), &out.end)) return false;
  *h = out;
  return true;
}

std::string RenderPeerList(const PeerList& p) {
  json peers = json::array();
  for (const auto& peer : p.peers) peers.push_back({{"name", peer.name}, {"address", peer.address}});
  return json{{"at_ms", p.at_ms}, {"standby_names", p.standby_names}, {"peers", peers}}.dump() + "\n";
}

bool ParsePeerList(const std::string& text, PeerList* p) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("peers") || !j["peers"].is_array()) return false;
  PeerList out;
  out.at_ms = j.value("at_ms", int64_t{0});
  out.standby_names = j.value("standby_names", "");
  for (const auto& peer : j["peers"]) {
    if (!peer.is_object()) return false;
    out.peers.push_back(Peer{peer.value("name", ""), peer.value("address", "")});
  }
  *p = out;
  return true;
}

PromoteDecision DecidePromote(const PromoteFacts& f) {
  std::vector<std::string> overridden;
  if (f.upstream_writable) {
    overridden.push_back("the old master " + f.upstream + " is still up and accepts writes: "
                         "promoting this node now makes two writable masters, and whatever "
                         "clients write to the old one is lost; stop it first (for a container: "
                         "docker stop <its name>), then promote");
  }
  const PeerPosition* ahead = nullptr;
  for (const auto& p : f.peers) {
    if (p.reached && p.in_recovery && p.received > f.received &&
        (!ahead || p.received > ahead->received)) {
      ahead = &p;
    }
  }
  if (ahead) {
    overridden.push_back("replicant " + ahead->peer.name + " (" + ahead->peer.address +
                         ") has received more WAL than this node (" + FormatLsn(ahead->received) +
                         " against " + FormatLsn(f.received) + ", " +
                         Bytes(static_cast<int64_t>(ahead->received - f.received)) +
                         " more): promoting this node would lose them; promote " +
                         ahead->peer.name + " instead");
  }
  PromoteDecision d;
  std::string checked;
  int reached = 0;
  std::string unreached;
  for (const auto& p : f.peers) {
    if (p.reached) {
      ++reached;
    } else {
      unreached += (unreached.empty() ? "" : ", ") + p.peer.name + " (" + p.error + ")";
    }
  }
  checked = "the old master " + f.upstream +
            (f.upstream_writable ? " accepts writes"
             : f.upstream_reached ? " answers but is not writable"
                                  : " does not answer") +
            "; " + std::to_string(reached) + " other replicant" + (reached == 1 ? "" : "s") +
            " reached" + (ahead ? "" : ", none ahead of this node") +
            (unreached.empty() ? "" : "; not reached: " + unreached);
  if (overridden.empty()) {
    d.go = true;
    d.reason = "checked before promoting: " + checked;
    return d;
  }
  std::string why;
  for (const auto& o : overridden) why += (why.empty() ? "" : "; and ") + o;
  if (f.force) {
    d.go = true;
    d.reason = "promoting with --force although " + why;
  } else {
    d.reason = "refusing to promote: " + why + " (or promote with --force, PROMOTE_FORCE=True " +
               "at start, if you accept that)";
  }
  return d;
}

PromotionReport ReportPromotion(const PromoteFacts& f, Lsn promoted_at) {
  PromotionReport r;
  r.promoted_at = promoted_at;
  std::string text = "promoted at " + FormatLsn(promoted_at) + ". ";
  const bool heard = f.heard.end > 0 && f.heard.at_ms > 0;
  if (!heard) {
    text += "This node has no record of its master's WAL position, so what the old master " +
            f.upstream + " wrote beyond " + FormatLsn(promoted_at) +
            " may be lost and pgkeeper cannot say how much.";
  } else {
    r.master_known = f.heard.end;
    r.heard_ms_ago = std::max<int64_t>(0, f.now_ms - f.heard.at_ms);
    r.known_missing = f.heard.end > promoted_at ? static_cast<int64_t>(f.heard.end - promoted_at) : 0;
    text += "The old master " + (f.heard.upstream.empty() ? f.upstream : f.heard.upstream) +
            " was last heard at " + UtcTime(f.heard.at_ms) + " (" + Seconds(r.heard_ms_ago) +
            " before the promotion), then at WAL " + FormatLsn(f.heard.end) + ": ";
    if (r.known_missing > 0) {
      text += Bytes(r.known_missing) + " of WAL it had never reached this node and may be "
              "lost, with anything it wrote after that message.";
    } else {
      text += "this node has all of that WAL; only what it wrote after that message may be lost.";
    }
  }
  // Strict synchronous replication: every acknowledged commit is on at
  // least N of the replicants the master named; when N covers all of them
  // and this node is one, or every other one was reached and none is ahead
  // of this one, it is on this one.
  const StandbyList named = ParseStandbyNames(f.peer_list.standby_names);
  const int asked = named.n;
  const int listed = static_cast<int>(named.names.size());
  const bool self_named = IsListed(f.self, named.names);
  if (f.sync_strict && f.sync_required > 0 && asked > 0 && listed > 0 && self_named) {
    bool all_reached_none_ahead =
        std::all_of(named.names.begin(), named.names.end(), [&](const std::string& name) {
          if (IsListed(f.self, {name})) return true;
          return std::any_of(f.peers.begin(), f.peers.end(), [&](const auto& p) {
            return IsListed(p.peer.name, {name}) && p.reached && p.received <= f.received;
          });
        });
    r.loss_impossible = asked >= listed || all_reached_none_ahead;
    text += " Synchronous replication was strict (ANY " + std::to_string(asked) + " of the " +
            std::to_string(listed) + " replicant" + (listed == 1 ? "" : "s") + " the master named, " +
            JoinList(named.names) + ", at " + UtcTime(f.peer_list.at_ms) + "): ";
    text += r.loss_impossible
                ? "every acknowledged commit is on this node, so no acknowledged commit is lost."
                : "an acknowledged commit may be only on a replicant pgkeeper did not reach.";
  }
  text += " If the old master rejoins (ALLOW_REJOIN=True), its report lists exactly what it "
          "had beyond " + FormatLsn(promoted_at) + ".";
  r.text = text;
  return r;
}

}  // namespace pgkeeper

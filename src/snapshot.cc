#include "snapshot.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "base/values.h"

namespace pgkeeper {

using nlohmann::json;

std::string Snapshot::role() const {
  const std::string& p = keeper.phase;
  if (p == "waiting-for-master" || p == "cloning" || p == "rejoining") return "cloning";
  if (p == "starting" || p == "initialising" || p == "promoting") return "starting";
  // Stopping, or postgres known to be down (stopped, failed, being
  // restarted): it takes nothing new, whatever the last look at postgres
  // said. A master stepping down answers /primary with 503 at once, and
  // goes on doing so after postgres exited, until pgkeeper does.
  if (!postgres_up || p == "stopping" || p == "stopped" || p == "failed" || p == "restarting") {
    return "stopped";
  }
  if (in_recovery) return "replicant";
  return keeper.promoted || keeper.configured_replicant ? "promoted" : "master";
}

bool Snapshot::serving() const {
  std::string r = role();
  return postgres_up && (r == "master" || r == "promoted" || r == "replicant");
}

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string UtcTime(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03d UTC", buf, static_cast<int>(ms % 1000));
  return out;
}

bool IsStandbyPhase(const std::string& phase) {
  return phase == "standby" || phase == "streaming" || phase == "stalled";
}

bool IsSynchronous(const ReplicantInfo& r) { return r.sync_state == "sync" || r.sync_state == "quorum"; }

std::string StandbyPhase(bool in_recovery, bool streaming, bool wal_missing) {
  if (!in_recovery) return "running";
  if (wal_missing) return "stalled";
  return streaming ? "streaming" : "standby";
}

namespace {

json CloneJson(const CloneProgress& c) {
  return {{"active", c.active},
          {"done_bytes", c.done_bytes},
          {"total_bytes", c.total_bytes},
          {"percent", std::round(c.percent() * 10) / 10},
          {"rate_bytes_per_second", std::round(c.rate_bytes_per_s)},
          {"eta_seconds", c.eta_seconds < 0 ? json(nullptr) : json(std::round(c.eta_seconds))}};
}

json KeeperJson(const KeeperState& k) {
  return {{"pid", k.pid},
          {"phase", k.phase},
          {"message", k.message},
          {"configured_replicant", k.configured_replicant},
          {"promoted", k.promoted},
          {"master", k.master},
          {"clone", CloneJson(k.clone)},
          {"wal_missing", k.wal_missing},
          {"promotion", k.promotion},
          {"refused", k.refused},
          {"cluster", k.cluster},
          {"cluster_leader", k.cluster_leader},
          {"cluster_takeovers", k.cluster_takeovers},
          {"sync_required", k.sync_required},
          {"sync_available", k.sync_available}};
}

json NullIfNegative(double v) { return v < 0 ? json(nullptr) : json(v); }
json NullIfNegative(int64_t v) { return v < 0 ? json(nullptr) : json(v); }
json NullIfEmpty(const std::string& v) { return v.empty() ? json(nullptr) : json(v); }

// Text from postgres or the OS may not be UTF-8; dump() would throw on it.
std::string Dump(const json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string KeeperStateToJson(const KeeperState& k) { return Dump(KeeperJson(k)); }

bool KeeperStateFromJson(const std::string& text, KeeperState* k) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    k->pid = j.value("pid", 0);
    k->phase = j.value("phase", "unknown");
    k->message = j.value("message", "");
    k->configured_replicant = j.value("configured_replicant", false);
    k->promoted = j.value("promoted", false);
    k->master = j.value("master", "");
    k->wal_missing = j.value("wal_missing", "");
    k->promotion = j.value("promotion", "");
    k->refused = j.value("refused", "");
    k->cluster = j.value("cluster", "");
    k->cluster_leader = j.value("cluster_leader", false);
    k->cluster_takeovers = j.value("cluster_takeovers", 0);
    k->sync_required = j.value("sync_required", 0);
    k->sync_available = j.value("sync_available", false);
    if (j.contains("clone") && j["clone"].is_object()) {
      const json& c = j["clone"];
      k->clone.active = c.value("active", false);
      k->clone.done_bytes = c.value("done_bytes", int64_t{0});
      k->clone.total_bytes = c.value("total_bytes", int64_t{0});
      k->clone.rate_bytes_per_s = c.value("rate_bytes_per_second", 0.0);
      auto eta = c.find("eta_seconds");  // c is const: operator[] on a missing key is UB
      k->clone.eta_seconds = eta != c.end() && eta->is_number() ? eta->get<double>() : -1;
    }
  } catch (const json::exception&) {
    return false;
  }
  return true;
}

namespace {
// null unless the node is a master that asks for synchronous replicants.
json SyncJson(const Snapshot& s) {
  if (!s.postgres_up || s.in_recovery || (s.keeper.sync_required == 0 && s.sync.asked == 0)) {
    return nullptr;
  }
  json names = json::array();
  for (const auto& r : s.replicants) {
    if (IsSynchronous(r)) names.push_back(r.name);
  }
  return {{"required", s.keeper.sync_required},
          {"mode", s.keeper.sync_available ? "available" : "strict"},
          {"asked", s.sync.asked},
          {"may_confirm", s.sync.names},
          {"commit", NullIfEmpty(s.sync.commit)},
          {"synchronous_replicants", names},
          {"waiting_commits", s.sync.waiting_commits}};
}
}  // namespace

std::string ToJson(const Snapshot& s) {
  json replicants = json::array();
  for (const auto& r : s.replicants) {
    replicants.push_back({{"name", r.name},
                          {"address", r.address},
                          {"state", r.state},
                          {"lag_bytes", NullIfNegative(r.lag_bytes)},
                          {"lag_seconds", NullIfNegative(r.lag_seconds)},
                          {"sync_state", NullIfEmpty(r.sync_state)}});
  }
  json slots = json::array();
  for (const auto& sl : s.slots) {
    slots.push_back({{"name", sl.name},
                     {"active", sl.active},
                     {"replicant", NullIfEmpty(sl.replicant)},
                     {"retained_bytes", NullIfNegative(sl.retained_bytes)},
                     {"wal_status", NullIfEmpty(sl.wal_status)}});
  }
  json j = {{"role", s.role()},
            {"phase", s.keeper.phase},
            {"message", s.keeper.message},
            {"postgres_up", s.postgres_up},
            {"in_recovery", s.in_recovery},
            {"server_version", NullIfEmpty(s.server_version)},
            {"timeline", s.timeline > 0 ? json(s.timeline) : json(nullptr)},
            {"current_lsn", NullIfEmpty(s.current_lsn)},
            {"received_lsn", NullIfEmpty(s.received_lsn)},
            {"replayed_lsn", NullIfEmpty(s.replayed_lsn)},
            {"master", NullIfEmpty(s.keeper.master)},
            {"streaming", s.streaming},
            {"lag_bytes", NullIfNegative(s.lag_bytes)},
            {"lag_seconds", NullIfNegative(s.lag_seconds)},
            {"replicants", replicants},
            {"slots", slots},
            {"synchronous", SyncJson(s)},
            {"promotion", NullIfEmpty(s.keeper.promotion)},
            {"refused", NullIfEmpty(s.keeper.refused)},
            {"cluster", NullIfEmpty(s.keeper.cluster)},
            {"clone", CloneJson(s.keeper.clone)},
            {"disk", s.disk_total_bytes < 0 ? json(nullptr)
                                            : json{{"free_bytes", s.disk_free_bytes},
                                                   {"total_bytes", s.disk_total_bytes}}},
            {"pgkeeper_pid", s.keeper.pid},
            {"taken_at_ms", s.taken_at_ms}};
  return Dump(j, 2);
}

PublishedSnapshot Publish(Snapshot s) {
  std::string text = ToJson(s) + "\n";
  return PublishedSnapshot{std::move(s), std::move(text)};
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 0) return "-";
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

namespace {
std::string Seconds(double s) {
  if (s < 0) return "-";
  char buf[32];
  snprintf(buf, sizeof(buf), "%.1f s", s);
  return buf;
}
}  // namespace

std::string RenderStatusTable(const Snapshot& s) {
  std::ostringstream o;
  auto row = [&](const std::string& k, const std::string& v) {
    o << std::left << std::setw(12) << k << v << "\n";
  };
  row("role", s.role());
  row("phase", s.keeper.phase + (s.keeper.message.empty() ? "" : ": " + s.keeper.message));
  row("postgres", s.postgres_up ? s.server_version + " (accepting connections)" : "not running");
  if (s.timeline > 0) row("timeline", std::to_string(s.timeline));
  if (!s.keeper.master.empty() && s.in_recovery) {
    row("master", s.keeper.master + (s.streaming ? " (streaming)" : " (not streaming)"));
  }
  if (!s.current_lsn.empty()) row("lsn", "current " + s.current_lsn);
  if (!s.received_lsn.empty() || !s.replayed_lsn.empty()) {
    row("lsn", "received " + (s.received_lsn.empty() ? "-" : s.received_lsn) + ", replayed " +
                   (s.replayed_lsn.empty() ? "-" : s.replayed_lsn));
  }
  if (s.in_recovery) row("lag", FormatBytes(s.lag_bytes) + ", " + Seconds(s.lag_seconds));
  if (s.keeper.clone.active) {
    char buf[160];
    snprintf(buf, sizeof(buf), "%.1f%% of %s at %s/s", s.keeper.clone.percent(),
             FormatBytes(s.keeper.clone.total_bytes).c_str(),
             FormatBytes(static_cast<int64_t>(s.keeper.clone.rate_bytes_per_s)).c_str());
    row("clone", buf);
  }
  if (!s.keeper.wal_missing.empty()) row("problem", s.keeper.wal_missing);
  if (s.disk_total_bytes >= 0) {
    row("disk", FormatBytes(s.disk_free_bytes) + " free of " + FormatBytes(s.disk_total_bytes));
  }
  if (!s.keeper.promotion.empty()) row("promotion", s.keeper.promotion);
  if (!s.keeper.refused.empty()) row("refused", s.keeper.refused);
  if (!s.keeper.cluster.empty()) row("cluster", s.keeper.cluster);
  // A replicant lists its own downstreams only when it has some (cascading).
  if (s.postgres_up && (!s.in_recovery || !s.replicants.empty())) {
    row("replicants", std::to_string(s.replicants.size()));
    for (const auto& r : s.replicants) {
      o << "  " << std::left << std::setw(20) << r.name << std::setw(18) << r.address
        << std::setw(11) << r.state << FormatBytes(r.lag_bytes) << ", " << Seconds(r.lag_seconds)
        << (IsSynchronous(r) ? ", synchronous" : "") << "\n";
    }
  }
  if (json sync = SyncJson(s); !sync.is_null()) {
    std::string asked = s.sync.asked < 0 ? "set by hand (ALTER SYSTEM)"
                        : s.sync.asked == 0 ? "none now"
                                            : "ANY " + std::to_string(s.sync.asked) + " of " +
                                                  JoinList(s.sync.names, "no replicant yet");
    std::vector<std::string> confirming;
    for (const auto& name : sync["synchronous_replicants"]) confirming.push_back(name);
    row("synchronous", std::to_string(s.keeper.sync_required) + " required (" +
                           (s.keeper.sync_available ? "available" : "strict") + ", " + s.sync.commit +
                           "), asked: " + asked + ", confirming: " +
                           JoinList(confirming, "none") + ", " +
                           std::to_string(s.sync.waiting_commits) + " commits waiting");
  }
  if (!s.slots.empty()) {
    row("slots", std::to_string(s.slots.size()));
    for (const auto& sl : s.slots) {
      o << "  " << std::left << std::setw(20) << sl.name << std::setw(18)
        << (sl.active ? "active" : "inactive") << std::setw(11)
        << (sl.wal_status.empty() ? "-" : sl.wal_status) << "holds "
        << FormatBytes(sl.retained_bytes) << "\n";
    }
  }
  return o.str();
}

namespace {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

class MetricWriter {
 public:
  void Family(const std::string& name, const std::string& help, const char* type = "gauge") {
    o_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  void Sample(const std::string& name, double value, const std::string& labels = "") {
    o_ << name;
    if (!labels.empty()) o_ << "{" << labels << "}";
    o_ << " ";
    if (std::floor(value) == value && std::fabs(value) < 1e15) {
      o_ << static_cast<int64_t>(value);
    } else {
      o_ << std::setprecision(6) << value;
    }
    o_ << "\n";
  }
  void Gauge(const std::string& name, const std::string& help, double value) {
    Family(name, help);
    Sample(name, value);
  }
  std::string str() const { return o_.str(); }

 private:
  std::ostringstream o_;
};

}  // namespace

std::string RenderMetrics(const Snapshot& s, int64_t now_ms) {
  MetricWriter m;
  m.Gauge("pgkeeper_postgres_up", "1 when PostgreSQL accepts connections.", s.postgres_up ? 1 : 0);
  m.Family("pgkeeper_role", "The node's role: 1 on the label of the current one.");
  for (const char* r : {"master", "replicant", "promoted", "cloning", "starting", "stopped"}) {
    m.Sample("pgkeeper_role", s.role() == r ? 1 : 0, std::string("role=\"") + r + "\"");
  }
  m.Gauge("pgkeeper_timeline", "PostgreSQL timeline ID (0 when unknown).", s.timeline);
  m.Gauge("pgkeeper_in_recovery", "1 on a replicant (PostgreSQL in recovery).", s.in_recovery ? 1 : 0);
  m.Gauge("pgkeeper_streaming", "1 when this replicant streams from its master.", s.streaming ? 1 : 0);
  m.Gauge("pgkeeper_replication_lag_bytes",
          "WAL the master has that this replicant has not replayed (-1 when unknown or master).",
          static_cast<double>(s.lag_bytes));
  m.Gauge("pgkeeper_replication_lag_seconds",
          "Age of the last replayed transaction while behind (-1 when unknown or master).",
          s.lag_seconds);
  m.Gauge("pgkeeper_connected_replicants", "Replicants streaming from this node.",
          static_cast<double>(s.replicants.size()));
  if (!s.replicants.empty()) {
    m.Family("pgkeeper_replicant_lag_bytes", "Per connected replicant: WAL not yet replayed there.");
    for (const auto& r : s.replicants) {
      m.Sample("pgkeeper_replicant_lag_bytes", static_cast<double>(r.lag_bytes),
               "name=\"" + EscapeLabel(r.name) + "\",address=\"" + EscapeLabel(r.address) + "\"");
    }
  }
  if (!s.replicants.empty()) {
    m.Family("pgkeeper_replicant_synchronous",
             "Per connected replicant: 1 when a commit may wait for it (sync or quorum).");
    for (const auto& r : s.replicants) {
      m.Sample("pgkeeper_replicant_synchronous",
               IsSynchronous(r) ? 1 : 0,
               "name=\"" + EscapeLabel(r.name) + "\",address=\"" + EscapeLabel(r.address) + "\"");
    }
  }
  m.Gauge("pgkeeper_sync_required_replicants",
          "SYNCHRONOUS_REPLICANTS: replicants a commit should wait for (0: asynchronous).",
          s.keeper.sync_required);
  m.Gauge("pgkeeper_sync_asked_replicants",
          "Replicants a commit waits for now (lower than required while SYNCHRONOUS_MODE=available "
          "lowered it; -1 when set by hand).",
          s.in_recovery ? 0 : s.sync.asked);
  if (!s.in_recovery && s.sync.asked > 0) {
    m.Gauge("pgkeeper_sync_eligible_replicants",
            "Replicants that may confirm a commit: those with a replication slot here.",
            static_cast<double>(s.sync.names.size()));
    if (!s.sync.names.empty()) {
      m.Family("pgkeeper_sync_replicant_confirms",
               "Per replicant that may confirm a commit: 1 while it does (streams as a "
               "synchronous replicant).");
      for (const auto& name : s.sync.names) {
        bool confirms = std::any_of(s.replicants.begin(), s.replicants.end(), [&](const auto& r) {
          return IsSynchronous(r) && IsListed(r.name, {name});
        });
        m.Sample("pgkeeper_sync_replicant_confirms", confirms ? 1 : 0,
                 "name=\"" + EscapeLabel(name) + "\"");
      }
    }
  }
  m.Gauge("pgkeeper_sync_waiting_commits", "Commits waiting now for replicants to confirm them.",
          s.sync.waiting_commits);
  if (!s.slots.empty()) {
    m.Family("pgkeeper_slot_active", "Per replication slot: 1 while a replicant streams through it.");
    for (const auto& sl : s.slots) {
      m.Sample("pgkeeper_slot_active", sl.active ? 1 : 0, "slot=\"" + EscapeLabel(sl.name) + "\"");
    }
    m.Family("pgkeeper_slot_retained_bytes",
             "Per replication slot: WAL it holds back on this node (-1 when it holds none: lost).");
    for (const auto& sl : s.slots) {
      m.Sample("pgkeeper_slot_retained_bytes", static_cast<double>(sl.retained_bytes),
               "slot=\"" + EscapeLabel(sl.name) + "\",wal_status=\"" + EscapeLabel(sl.wal_status) + "\"");
    }
  }
  if (!s.keeper.cluster.empty()) {
    m.Gauge("pgkeeper_cluster_leader", "Cluster mode: 1 while this node holds etcd's leader key.",
            s.keeper.cluster_leader ? 1 : 0);
    m.Family("pgkeeper_cluster_takeovers_total",
             "Cluster mode: failovers this node won (the leader key taken after the leader's lease "
             "lapsed or it stepped down), since pgkeeper started.",
             "counter");
    m.Sample("pgkeeper_cluster_takeovers_total", s.keeper.cluster_takeovers);
  }
  const CloneProgress& c = s.keeper.clone;
  m.Gauge("pgkeeper_clone_active", "1 while this node copies its master.", c.active ? 1 : 0);
  m.Gauge("pgkeeper_clone_done_bytes", "Bytes copied by the current clone.", static_cast<double>(c.done_bytes));
  m.Gauge("pgkeeper_clone_total_bytes", "Estimated size of the current clone.", static_cast<double>(c.total_bytes));
  m.Gauge("pgkeeper_clone_rate_bytes_per_second", "Average copy rate of the current clone.", c.rate_bytes_per_s);
  if (s.disk_total_bytes >= 0) {
    m.Gauge("pgkeeper_data_disk_free_bytes",
            "Bytes postgres may still write on the disk holding PGDATA.",
            static_cast<double>(s.disk_free_bytes));
    m.Gauge("pgkeeper_data_disk_size_bytes", "Size of the disk holding PGDATA.",
            static_cast<double>(s.disk_total_bytes));
  }
  m.Gauge("pgkeeper_snapshot_age_seconds", "Age of the facts these metrics come from.",
          s.taken_at_ms > 0 ? static_cast<double>(now_ms - s.taken_at_ms) / 1000.0 : -1);
  return m.str();
}

HealthVerdict JudgeHealth(const KeeperState& k, bool keeper_alive, bool postgres_accepting,
                          HealthMode mode) {
  const std::string& p = k.phase;
  bool serving_phase = p == "running" || p == "streaming" || p == "standby";
  bool broken = p == "failed" || p == "refused" || p == "stopped" || p == "stalled";
  bool live = keeper_alive && !broken;
  bool ready = live && serving_phase && postgres_accepting;
  bool copying = k.configured_replicant &&
                 (p == "waiting-for-master" || p == "cloning" || p == "rejoining");
  bool use_live = mode == HealthMode::kLive || (mode == HealthMode::kDefault && copying);
  HealthVerdict v;
  v.ok = use_live ? live : ready;
  std::string detail = p + (k.message.empty() ? "" : ": " + k.message);
  if (!keeper_alive) {
    detail = "pgkeeper (pid " + std::to_string(k.pid) + ") is not running; last phase " + detail;
  } else if (serving_phase && !postgres_accepting) {
    detail = p + ", but postgres does not accept connections";
  } else if (v.ok && !ready) {
    detail = "alive, not ready: " + detail;
  }
  v.text = std::string(v.ok ? "healthy: " : "unhealthy: ") + detail;
  return v;
}

}  // namespace pgkeeper

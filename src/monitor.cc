#include "monitor.h"

#include <unistd.h>

#include <algorithm>

#include "base/fs.h"
#include "base/log.h"
#include "postgresql/promote.h"
#include "postgresql/sync.h"

namespace pgkeeper {
namespace {

int64_t ToInt(const std::string& v, int64_t fallback = -1) {
  if (v.empty()) return fallback;
  try {
    return std::stoll(v);
  } catch (...) {
    return fallback;
  }
}

double ToDouble(const std::string& v, double fallback = -1) {
  if (v.empty()) return fallback;
  try {
    return std::stod(v);
  } catch (...) {
    return fallback;
  }
}

// A replicant keeps "stalled" until streaming has lasted this long: the
// walreceiver briefly reports streaming before it learns the WAL is gone.
constexpr auto kStreamingClearsStall = std::chrono::seconds(30);

}  // namespace

ConnParams MonitorParams(const Config& c) {
  ConnParams p = LocalParams(c.run_dir, c.port, c.superuser, "postgres");
  p["connect_timeout"] = "2";
  // Replaces LocalParams' synchronous_commit=local: the monitor never
  // writes, and it reports the server's synchronous_commit.
  p["options"] = "-c statement_timeout=2000";
  p["application_name"] = "pgkeeper_monitor";
  return p;
}

Status CollectPostgresFacts(PgConn& conn, Snapshot* s) {
  std::vector<std::vector<std::string>> rows;
  PGK_RETURN_IF_ERROR(conn.QueryRows(
      "SELECT current_setting('server_version'), pg_is_in_recovery()", &rows));
  s->postgres_up = true;
  s->server_version = rows[0][0];
  s->in_recovery = rows[0][1] == "t";
  if (s->in_recovery) {
    PGK_RETURN_IF_ERROR(conn.QueryRows(
        "SELECT w.status, pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, "
        "  pg_wal_lsn_diff(GREATEST(w.latest_end_lsn, pg_last_wal_receive_lsn()), "
        "                  pg_last_wal_replay_lsn())::bigint, "
        "  CASE WHEN pg_last_wal_receive_lsn() IS NULL "
        "         OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 "
        "       ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END, "
        "  COALESCE(w.received_tli, (SELECT timeline_id FROM pg_control_checkpoint())), "
        "  COALESCE(w.latest_end_lsn::text, ''), "
        "  COALESCE((extract(epoch FROM w.latest_end_time) * 1000)::bigint, 0), "
        "  COALESCE(w.sender_host || ':' || w.sender_port, '') "
        "FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver w ON true",
        &rows));
    const auto& r = rows[0];
    s->streaming = r[0] == "streaming";
    s->received_lsn = r[1];
    s->replayed_lsn = r[2];
    // Without a stream, how far the master has moved on is unknown.
    s->lag_bytes = s->streaming ? ToInt(r[3]) : -1;
    s->lag_seconds = s->streaming ? ToDouble(r[4]) : -1;
    s->timeline = static_cast<int>(ToInt(r[5], 0));
    if (s->streaming) {
      s->upstream_end_lsn = r[6];
      s->upstream_end_ms = ToInt(r[7], 0);
      s->streaming_from = r[8];
    }
  } else {
    PGK_RETURN_IF_ERROR(conn.QueryRows(
        "SELECT pg_current_wal_lsn()::text, "
        "  ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int",
        &rows));
    s->current_lsn = rows[0][0];
    s->timeline = static_cast<int>(ToInt(rows[0][1], 0));
    PGK_RETURN_IF_ERROR(conn.QueryRows(
        "SELECT current_setting('synchronous_standby_names'), "
        "  current_setting('synchronous_commit'), "
        "  (SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep')",
        &rows));
    StandbyList list = ParseStandbyNames(rows[0][0]);
    s->sync.asked = list.n;
    s->sync.names = std::move(list.names);
    s->sync.commit = rows[0][1];
    s->sync.waiting_commits = static_cast<int>(ToInt(rows[0][2], 0));
  }
  return CollectDownstreams(conn, s);
}

Status CollectDownstreams(PgConn& conn, Snapshot* s) {
  // A replicant may serve replicants of its own (cascading): its position is
  // what it has replayed.
  const std::string position = s->in_recovery ? "pg_last_wal_replay_lsn()" : "pg_current_wal_lsn()";
  std::vector<std::vector<std::string>> rows;
  PGK_RETURN_IF_ERROR(conn.QueryRows(
      "SELECT application_name, COALESCE(host(client_addr), 'local'), state, "
      "  COALESCE(pg_wal_lsn_diff(" + position + ", replay_lsn)::bigint, -1), "
      "  COALESCE(extract(epoch FROM replay_lag), 0), sync_state, "
      "  COALESCE(extract(epoch FROM now() - reply_time), -1) "
      "FROM pg_stat_replication ORDER BY application_name, client_addr",
      &rows));
  s->replicants.clear();
  for (const auto& r : rows) {
    s->replicants.push_back(
        ReplicantInfo{r[0], r[1], r[2], ToInt(r[3]), ToDouble(r[4]), r[5], ToDouble(r[6])});
  }
  PGK_RETURN_IF_ERROR(conn.QueryRows(
      "SELECT s.slot_name, s.active, COALESCE(r.application_name, ''), "
      "  COALESCE(pg_wal_lsn_diff(" + position + ", s.restart_lsn)::bigint, -1), "
      "  COALESCE(s.wal_status, ''), s.temporary "
      "FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid "
      "WHERE s.slot_type = 'physical' ORDER BY s.slot_name",
      &rows));
  s->slots.clear();
  for (const auto& r : rows) {
    s->slots.push_back(SlotInfo{r[0], r[1] == "t", r[2], std::max<int64_t>(-1, ToInt(r[3])), r[4],
                                r[5] == "t"});
  }
  return Status::Ok();
}

Monitor::Monitor(const Config& config, KeeperState initial) : config_(config), keeper_(initial) {
  keeper_.pid = getpid();
  latest_.keeper = keeper_;
  latest_.taken_at_ms = WallClockMs();
  WriteStatusFile(keeper_);
  thread_ = std::thread([this] { Loop(); });
}

Monitor::~Monitor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Monitor::WriteStatusFile(const KeeperState& k) {
  // Not fsynced: the file describes the running process and is rewritten often.
  std::string path = JoinPath(config_.run_dir, kStatusFile);
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (!f) return;
  std::string text = KeeperStateToJson(k) + "\n";
  fwrite(text.data(), 1, text.size(), f);
  fclose(f);
  if (rename(tmp.c_str(), path.c_str()) != 0) LogWarn("cannot write " + path);
}

template <typename Change>
void Monitor::Update(Change change) {
  KeeperState k;
  {
    std::lock_guard<std::mutex> lock(mu_);
    change(keeper_);
    latest_.keeper = keeper_;
    published_.reset();
    k = keeper_;
  }
  WriteStatusFile(k);
}

void Monitor::SetPhase(const std::string& phase, const std::string& message) {
  Update([&](KeeperState& k) {
    k.phase = phase;
    k.message = message;
    if (phase != "cloning") k.clone = CloneProgress();
  });
}

void Monitor::SetClone(const CloneProgress& clone) {
  Update([&](KeeperState& k) { k.clone = clone; });
}

void Monitor::SetPromoted() {
  Update([](KeeperState& k) { k.promoted = true; });
  PollSoon();
}

void Monitor::NoteWritable() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    keeper_.promoted = true;
    latest_.keeper = keeper_;
    latest_.in_recovery = false;
    writable_since_poll_ = polls_started_;
    published_.reset();
  }
  PollSoon();
}

void Monitor::PollSoon() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poll_now_ = true;
  }
  cv_.notify_all();
}

void Monitor::SetPromotionReport(const std::string& report) {
  Update([&](KeeperState& k) { k.promotion = report; });
}

void Monitor::SetMaster(const std::string& master) {
  Update([&](KeeperState& k) { k.master = master; });
}

void Monitor::NoteWalMissing(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  keeper_.wal_missing = line;
}

void Monitor::NoteRefused(const std::string& sentence) {
  Update([&](KeeperState& k) { k.refused = sentence; });
}

void Monitor::NoteCluster(const std::string& view, bool leader, int takeovers) {
  Update([&](KeeperState& k) {
    k.cluster = view;
    k.cluster_leader = leader;
    k.cluster_takeovers = takeovers;
  });
}

void Monitor::ExpectPostgres(bool expected) {
  expect_postgres_.store(expected);
  cv_.notify_all();
}

Snapshot Monitor::Fresh(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t want = polls_started_ + 1;  // the next poll to start
  poll_now_ = true;
  cv_.notify_all();
  cv_.wait_for(lock, timeout, [&] { return stop_ || polls_done_ >= want; });
  return latest_;
}

Snapshot Monitor::Latest() {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

std::shared_ptr<const PublishedSnapshot> Monitor::Published() {
  std::lock_guard<std::mutex> lock(mu_);
  // Rendering under the lock holds up the poll and the executor for tens of
  // microseconds, once per change; it keeps published_ exactly latest_'s.
  if (published_ == nullptr) {
    published_ = std::make_shared<const PublishedSnapshot>(Publish(latest_));
  }
  return published_;
}

KeeperState Monitor::Keeper() {
  std::lock_guard<std::mutex> lock(mu_);
  return keeper_;
}

void Monitor::NoteHeard(const Snapshot& s, const std::string& upstream) {
  Heard h;
  if (s.upstream_end_lsn.empty() || !ParseLsn(s.upstream_end_lsn, &h.end) || h.end == 0) return;
  h.upstream = upstream;
  h.at_ms = s.upstream_end_ms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    heard_ = h;
  }
  // On disk at most every 2 s: a record older than the last message only
  // widens the window a promotion report names, never hides a loss.
  auto now = std::chrono::steady_clock::now();
  if (h.end == heard_written_.end || now - heard_written_at_ < std::chrono::seconds(2)) return;
  heard_written_at_ = now;  // also after a failure (a full disk): one warning per 2 s at most
  Status st = WriteFileAtomic(JoinPath(config_.pgdata, kHeardFile), RenderHeard(h), 0600);
  if (!st.ok()) {
    LogWarn("cannot keep what the upstream last said: " + st.message());
    return;
  }
  heard_written_ = h;
}

Heard Monitor::LastHeard() {
  std::lock_guard<std::mutex> lock(mu_);
  return heard_;
}

void Monitor::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const uint64_t number = ++polls_started_;
    lock.unlock();
    Poll();
    lock.lock();
    polls_done_ = number;
    cv_.notify_all();  // for Fresh
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || poll_now_; });
    poll_now_ = false;
  }
}

void MeasureDataDisk(const std::string& pgdata, Snapshot* s) {
  if (!FreeBytes(pgdata, &s->disk_free_bytes, &s->disk_total_bytes).ok()) {
    s->disk_free_bytes = s->disk_total_bytes = -1;
  }
}

void Monitor::Poll() {
  Snapshot s;
  if (expect_postgres_.load()) {
    if (!connected_) connected_ = conn_.Connect(MonitorParams(config_)).ok();
    if (connected_ && !CollectPostgresFacts(conn_, &s).ok()) {
      connected_ = false;
      s = Snapshot();
    }
  } else if (connected_) {
    conn_.Close();
    connected_ = false;
  }
  s.taken_at_ms = WallClockMs();
  MeasureDataDisk(config_.pgdata, &s);

  std::string log_line;
  bool log_error = false;
  KeeperState k;
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Begun before NoteWritable (polls_started_ numbers this poll until it
    // ends): what it saw of recovery is out of date.
    if (s.postgres_up && s.in_recovery && polls_started_ <= writable_since_poll_) {
      s.in_recovery = false;
    }
    const std::string& phase = keeper_.phase;
    if (s.postgres_up && IsStandbyPhase(phase)) {
      auto now = std::chrono::steady_clock::now();
      if (s.streaming && !streaming_) streaming_since_ = now;
      streaming_ = s.streaming;
      if (!keeper_.wal_missing.empty() && streaming_ && now - streaming_since_ > kStreamingClearsStall) {
        keeper_.wal_missing.clear();
      }
      std::string next = StandbyPhase(s.in_recovery, s.streaming, !keeper_.wal_missing.empty());
      if (next != phase) {
        changed = true;
        if (next == "running") {
          keeper_.promoted = true;
          keeper_.message = "promoted while running; this node now accepts writes";
          log_line = keeper_.message;
        } else if (next == "stalled") {
          bool forked = keeper_.wal_missing.find("forked off") != std::string::npos;
          keeper_.message =
              forked ? "cannot follow " + keeper_.master +
                           ": its timeline forked off before the position this replicant has "
                           "replayed (it replayed WAL from the old master that " +
                           keeper_.master + " never had; that WAL is still on the old master); "
                           "a fresh copy replaces the data if the disk can hold one beside it"
                     : "cannot resume: the master " + keeper_.master +
                           " no longer has WAL this replicant needs; a fresh copy replaces "
                           "the data if the disk can hold one beside it";
          log_line = keeper_.message + " (postgres said: " + keeper_.wal_missing + ")";
          log_error = true;
        } else if (next == "streaming") {
          keeper_.message = "streaming from " + keeper_.master;
          log_line = keeper_.message;
        } else {
          keeper_.message = "following " + keeper_.master + ", not streaming";
          if (phase == "streaming") log_line = "stopped streaming from " + keeper_.master;
        }
        keeper_.phase = next;
      }
    }
    s.keeper = keeper_;
    latest_ = s;
    published_.reset();
    k = keeper_;
  }
  if (!log_line.empty()) log_error ? LogError(log_line) : LogInfo(log_line);
  NoteHeard(s, k.master);
  if (changed) WriteStatusFile(k);
}

}  // namespace pgkeeper

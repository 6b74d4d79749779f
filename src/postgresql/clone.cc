#include "postgresql/clone.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include <nlohmann/json.hpp>

#include "postgresql/datadir.h"
#include "base/fs.h"
#include "postgresql/hba_refusal.h"
#include "base/log.h"
#include "postgresql/pg.h"
#include "postgresql/progress.h"
#include "postgresql/render.h"
#include "postgresql/slots.h"
#include "postgresql/swap.h"
#include "postgresql/tls.h"

namespace pgkeeper {

Status WaitForMaster(const Node& n) {
  const Config& c = n.config;
  ConnParams params = {{"host", c.replicate_from},
                       {"port", std::to_string(c.replicate_port)},
                       {"user", c.replication_login()},
                       {"dbname", "postgres"},
                       {"connect_timeout", "5"},
                       // A ping only asks whether the server answers; it
                       // counts a refused login as an answer too. Skipping
                       // TLS and GSSAPI negotiation keeps OpenSSL and
                       // Kerberos from starting up in the long-lived
                       // supervisor (about 2 MB resident, measured).
                       {"sslmode", "disable"},
                       {"gssencmode", "disable"}};
  const auto start = std::chrono::steady_clock::now();
  int delay_ms = 0;
  PingResult last = PingResult::kOk;
  for (int attempt = 1;; ++attempt) {
    PingResult r = Ping(params);
    if (r == PingResult::kOk) {
      if (attempt > 1) LogInfo("master " + MasterName(c) + " is accepting connections");
      return Status::Ok();
    }
    const int64_t waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count();
    delay_ms = NextMasterLookMs(waited, delay_ms);
    std::string msg = "waiting for master " + MasterName(c) + " (attempt " +
                      std::to_string(attempt) + "): " + PingName(r) + "; next try in " +
                      std::to_string(delay_ms) + " ms";
    if (LogMasterLook(attempt, attempt > 1 && r != last, delay_ms)) LogInfo(msg);
    last = r;
    n.monitor->SetPhase("waiting-for-master", msg);
    PGK_RETURN_IF_ERROR(SleepUnlessStopped(delay_ms));
  }
}

int NextMasterLookMs(int64_t waited_ms, int last_ms) {
  if (waited_ms < 30000) return 100;
  return std::clamp(last_ms * 2, 200, 5000);
}

bool LogMasterLook(int attempt, bool answer_changed, int next_ms) {
  return attempt <= 2 || answer_changed || attempt % 50 == 0 || next_ms >= 1000;
}

namespace {

// Logs pg_basebackup's output; progress goes to the monitor at once and to
// the log every few seconds as percent, rate and time left.
class CloneLogger {
 public:
  explicit CloneLogger(Monitor* monitor) : monitor_(monitor), tracker_(WallClockMs()) {}
  void operator()(const std::string& line) {
    std::optional<BasebackupProgress> p = ParseBasebackupProgress(line);
    if (!p) {
      LogInfo(line);
      return;
    }
    CloneProgress progress = tracker_.Update(*p, WallClockMs());
    monitor_->SetClone(progress);
    auto now = std::chrono::steady_clock::now();
    bool done = p->done_kb >= p->total_kb;
    if (now - last_ < std::chrono::seconds(3) && !done) return;
    last_ = now;
    LogInfo(CloneProgressTracker::Describe(progress));
  }

 private:
  Monitor* monitor_;
  CloneProgressTracker tracker_;
  std::chrono::steady_clock::time_point last_{};
};

Status CloneOnce(const Node& n) {
  const Config& c = n.config;
  const std::string staging = StagingDir(c.pgdata);
  PGK_RETURN_IF_ERROR(RemoveTree(staging));
  // The slot first, so that the upstream keeps the WAL from the copy's start
  // until this replicant streams.
  std::string slot_sentence;
  Status slot = EnsureSlotInChild(n, &slot_sentence);
  if (!slot.ok()) return Status::Tool("cannot prepare the replication slot: " + slot_sentence);
  LogInfo(slot_sentence);
  SpawnSpec spec;
  spec.argv = {c.pg_bin + "/pg_basebackup", "-D", staging, "-h", c.replicate_from,
               "-p", std::to_string(c.replicate_port), "-U", c.replication_login(),
               "-X", "stream", "-S", SlotName(n.id.node_name), "-c", "fast", "-P", "-v", "-w"};
  if (!c.clone_max_rate.empty()) spec.argv.push_back("--max-rate=" + c.clone_max_rate);
  spec.env = BaseEnv(n);
  spec.env.push_back("PGPASSFILE=" + JoinPath(c.run_dir, kPassFileName));
  spec.env.push_back("PGAPPNAME=pgkeeper_clone");
  for (auto& e : UpstreamTlsEnv(c)) spec.env.push_back(std::move(e));
  spec.env.push_back("PGCONNECT_TIMEOUT=10");
  CloneLogger logger(n.monitor);
  Status st = RunTool(spec, [&](const std::string& line) { logger(line); });
  if (!st.ok()) {
    Status rm = RemoveTree(staging);
    if (!rm.ok()) LogWarn(rm.message());
    return st;
  }
  // The copy carries the master's own files; make it a replicant's.
  PGK_RETURN_IF_ERROR(WriteState(staging, "clone"));
  // A cascading upstream's own follow record came along; ours goes in.
  PGK_RETURN_IF_ERROR(RemoveTree(JoinPath(staging, kFollowFile)));
  if (n.follow) {
    PGK_RETURN_IF_ERROR(
        WriteFileAtomic(JoinPath(staging, kFollowFile), RenderFollowRecord(*n.follow), 0600));
  }
  PGK_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(staging, "standby.signal"), "", 0600));
  PGK_RETURN_IF_ERROR(WriteConfigFiles(n, staging, true));
  PGK_RETURN_IF_ERROR(CommitStaging(c.pgdata));
  // A rewind stopped midway is superseded by this complete copy.
  return RemoveTree(RewindMarkerPath(c.pgdata));
}

}  // namespace

Status CheckUpstreamTls(const Node& n) {
  const Config& c = n.config;
  if (c.tls.ca_file.empty()) return Status::Ok();
  std::string text;
  Status st = RunSelfChild(n, "upstream-tls", [&](const std::string& line) { text += line; });
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!st.ok() || j.is_discarded() || !j.is_object()) {
    return Status::Tool("cannot check " + MasterName(c) + "'s certificate: " +
                        (text.empty() ? st.message() : text));
  }
  if (!j.value("ok", false)) {
    return Status::State(UpstreamTlsAdvice(c, j.value("error", ""), j.value("names", "")));
  }
  if (j.value("reached", false)) {
    LogInfo("TLS: " + MasterName(c) + "'s certificate is signed by SSL_CA_FILE and names " +
            c.replicate_from + "; replicating with sslmode=verify-full");
  }
  return Status::Ok();
}

Status Clone(const Node& n) {
  const Config& c = n.config;
  int delay_ms = 1000;
  for (int attempt = 1;; ++attempt) {
    PGK_RETURN_IF_ERROR(WaitForMaster(n));
    PGK_RETURN_IF_ERROR(CheckUpstreamTls(n));
    n.monitor->SetPhase("cloning", "copying " + MasterName(c) + " with pg_basebackup");
    LogInfo("cloning " + MasterName(c) + " with pg_basebackup (attempt " + std::to_string(attempt) + ")");
    auto start = std::chrono::steady_clock::now();
    Status st = CloneOnce(n);
    if (st.ok()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
      LogInfo("clone of " + MasterName(c) + " complete in " + std::to_string(ms) + " ms");
      n.monitor->NoteRefused("");  // a refusal before is no longer the news
      return st;
    }
    if (st.code() == ExitCode::kInterrupted) return st;
    std::string why = st.message();
    // Refused by the master's pg_hba.conf: say so plainly, with the address
    // it saw, here and in status; retrying picks up a fixed ALLOW_IP_RANGE.
    std::optional<HbaRefusal> refusal = ParseHbaRefusal(why);
    if (refusal && refusal->upstream) {
      why = DescribeUpstreamRefusal(*refusal, MasterName(c));
      n.monitor->NoteRefused(UtcNow("%Y-%m-%d %H:%M:%S UTC") + ": " + why);
    }
    const std::string retry = "existing data untouched; retrying in " + std::to_string(delay_ms) + " ms";
    LogError("clone attempt " + std::to_string(attempt) + " failed: " + why + "; " + retry);
    n.monitor->SetPhase("waiting-for-master", "clone attempt " + std::to_string(attempt) +
                                                  " failed: " + why + "; " + retry);
    PGK_RETURN_IF_ERROR(SleepUnlessStopped(delay_ms));
    delay_ms = std::min(delay_ms * 2, 30000);
  }
}

}  // namespace pgkeeper

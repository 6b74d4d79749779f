#include "postgresql/promotion.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <unistd.h>

#include "postgresql/datadir.h"
#include "base/fs.h"
#include "keeper.h"
#include "base/log.h"
#include "postgresql/peers.h"
#include "postgresql/pg.h"
#include "postgresql/promote.h"
#include "postgresql/rejoin.h"
#include "postgresql/render.h"
#include "snapshot.h"

namespace pgkeeper {
namespace {

// Where the timeline this node now writes on began: the last switch point
// in its history file.
Status PromotedAt(PgConn& conn, const Config& c, Lsn* at) {
  std::string file;
  PGK_RETURN_IF_ERROR(conn.QueryValue(
      "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) || '.history'", &file));
  std::string text;
  PGK_RETURN_IF_ERROR(ReadWholeFile(JoinPath(JoinPath(c.pgdata, "pg_wal"), file), &text));
  std::vector<HistoryEntry> history = ParseHistory(text);
  if (history.empty()) return Status::State("the history file " + file + " lists no switch point");
  *at = history.back().end;
  return Status::Ok();
}

// Promotes the server conn is connected to (REQUIRES: it runs, in
// recovery) with pg_promote, checks that it takes writes, and records the
// promotion in $PGDATA/pgkeeper.state. *elapsed_ms: from the request to a
// working write. signalled: pg_promote was sent already (cluster mode's
// agent); only waits.
Status PromoteLocal(PgConn& conn, const Config& c, int64_t* elapsed_ms, bool signalled) {
  std::string in_recovery;
  PGK_RETURN_IF_ERROR(conn.QueryValue("SELECT pg_is_in_recovery()", &in_recovery));
  if (in_recovery != "t" && !signalled) {
    return Status::State("this node is already a master (not in recovery); nothing to promote");
  }
  auto start = std::chrono::steady_clock::now();
  // pg_promote(true) would look every 100 ms whether promotion finished;
  // asked without waiting and looked at every 2 ms, the node is known
  // writable (and /primary says so) up to 0.1 s sooner. signalled: cluster
  // mode's agent asked already; asking twice could leave a promote file
  // behind for a later start.
  if (!signalled) {
    std::string done;
    PGK_RETURN_IF_ERROR(conn.QueryValue("SELECT pg_promote(false)", &done));
    if (done != "t") return Status::Tool("pg_promote could not signal the postmaster");
  }
  PGK_RETURN_IF_ERROR(AwaitPromotion(conn, std::chrono::seconds(60)));
  // Taking a transaction ID fails in recovery: this proves writes work.
  std::string xid;
  PGK_RETURN_IF_ERROR(conn.QueryValue("SELECT txid_current()", &xid));
  *elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
  // Recorded so that a later start never clones over this node's writes.
  return WriteState(c.pgdata, "promoted");
}

}  // namespace

Status AwaitPromotion(PgConn& conn, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  // A promotion that arrives just after the walreceiver lost its upstream
  // (a switchover: the old master stopped) is taken, and then the startup
  // process sleeps out wal_retrieve_retry_interval (5 s) before it acts on
  // it. A reload wakes that sleep (and changes nothing): at most every 30
  // ms, and only while the startup process is in it (a reload costs every
  // process a reread of the configuration, while the promotion writes).
  auto nudged = start - std::chrono::milliseconds(30);
  for (;;) {
    std::vector<std::vector<std::string>> rows;
    PGK_RETURN_IF_ERROR(conn.QueryRows(
        "SELECT pg_is_in_recovery(), COALESCE((SELECT wait_event FROM pg_stat_activity "
        "WHERE backend_type = 'startup'), '')",
        &rows));
    if (rows.empty() || rows[0].size() < 2) return Status::Tool("pg_is_in_recovery() said nothing");
    if (rows[0][0] == "f") return Status::Ok();
    const auto now = std::chrono::steady_clock::now();
    if (now - start > timeout) {
      return Status::Tool("the promotion did not finish within " +
                          std::to_string(timeout.count() / 1000) + " s");
    }
    if (rows[0][1] == "RecoveryRetrieveRetryInterval" &&
        now - nudged >= std::chrono::milliseconds(30)) {
      nudged = now;
      std::string ignored;
      (void)conn.QueryValue("SELECT pg_reload_conf()", &ignored);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Status PromoteWithReport(const Node& n, bool force, PromotionSession& session, std::string* report,
                         bool signalled) {
  const Config& c = n.config;
  PromoteFacts f;
  f.force = force;
  f.upstream = MasterName(c);
  f.sync_required = c.sync_replicants;
  f.sync_strict = !c.sync_available;
  f.self = ApplicationName(n.id.node_name);
  f.heard = n.monitor->LastHeard();
  std::string text;
  if (f.heard.end == 0 && ReadWholeFile(JoinPath(c.pgdata, kHeardFile), &text).ok()) {
    ParseHeard(text, &f.heard);
  }
  if (ReadWholeFile(JoinPath(c.pgdata, kPeersFile), &text).ok()) ParsePeerList(text, &f.peer_list);
  text.clear();
  // One session to the local server serves the whole promotion, made
  // ready while the child below looks at the old master and the peers.
  Lsn received = 0;
  Status local;
  std::thread opener([&] { local = session.Take(c, &received); });
  Status st;
  PromoteDecision d;
  if (c.cluster.enabled() && force) {
    // The election decided (cluster.h): the old master's lease lapsed, so by
    // the fencing argument it stopped taking writes, and the members' WAL
    // positions in etcd were final when this node took the key. Asking the
    // old master again would only wait for its connect timeout when its
    // address has gone dark.
    d.go = true;
    d.reason = "cluster mode: the leader key was free (the old master's lease lapsed) and no "
               "eligible member had more WAL in etcd; promoting without asking the old master";
  } else {
    st = session.Facts(n, &text);
  }
  opener.join();
  PGK_RETURN_IF_ERROR(local);
  f.received = received;
  if (!d.go) {
    if (!st.ok() || !ParsePromoteFacts(text, &f)) {
      return Status::Tool("cannot look at the old master and the other replicants before "
                          "promoting: " + (text.empty() ? st.message() : text));
    }
    d = DecidePromote(f);
    if (!d.go) return Status::State(d.reason);
  }
  LogInfo(d.reason);
  int64_t ms = 0;
  PgConn& conn = session.conn();
  PGK_RETURN_IF_ERROR(PromoteLocal(conn, c, &ms, signalled));
  n.monitor->SetPromoted();
  LogInfo("promoted to master in " + std::to_string(ms) + " ms; this node now accepts writes");
  f.now_ms = WallClockMs();
  Lsn at = 0;
  st = PromotedAt(conn, c, &at);
  if (!st.ok()) {
    LogWarn("cannot tell where the new timeline begins: " + st.message());
    at = f.received;
  }
  PromotionReport r = ReportPromotion(f, at);
  *report = r.text;
  r.loss_impossible ? LogInfo("promotion report: " + r.text) : LogWarn("promotion report: " + r.text);
  n.monitor->SetPromotionReport(r.text);
  // There for whoever reads it once the command returns; synced to disk
  // later (KeepPromotionReport).
  st = WriteFileUnsynced(JoinPath(c.pgdata, kPromotionFile), r.text + "\n", 0600);
  if (!st.ok()) LogWarn("cannot keep the promotion report: " + st.message());
  session.Release();
  return Status::Ok();
}

Status PromotionSession::Open(const Config& c) {
  open_ = false;
  PGK_RETURN_IF_ERROR(conn_.Connect(LocalParams(c.run_dir, c.port, c.superuser, "postgres")));
  open_ = true;
  return Status::Ok();
}

int PromotionSession::Tick(const Node& n) {
  if (!IsStandbyPhase(n.monitor->Keeper().phase)) return -1;
  int again = -1;
  if (!open_ && !Open(n.config).ok()) {
    again = retry_ms_;
    retry_ms_ = std::min(retry_ms_ * 2, 60000);
  }
  if (open_) retry_ms_ = 100;
  if (int ws = 0; child_.pid > 0 && TakeExit(child_.pid, &ws)) {
    // Promotions then start a child each time, as before; once is enough
    // to say so.
    LogWarn("the promote-facts child kept ready for a promotion ended (" +
            DescribeWaitStatus(ws) + "); a promotion will start its own");
    child_.pid = 0;  // reaped: StopChild only closes its pipes
    StopChild();
    child_failed_ = true;
  }
  if (child_.pid == 0 && !child_failed_) {
    SpawnSpec spec = SelfChildSpec(n, "promote-facts", {"--when-asked"});
    if (StartTool(spec, true, &child_).ok()) child_env_ = spec.env;
  }
  return again;
}

Status PromotionSession::Facts(const Node& n, std::string* text) {
  auto keep = [text](const std::string& line) { *text += line + "\n"; };
  // A follow or a switchover since it started changes the upstream it was
  // given: then it is let go and a new child looks.
  if (child_.pid > 0 && child_env_ == SelfChildSpec(n, "promote-facts", {}).env) {
    StartedTool child = child_;
    child_ = StartedTool();
    const char go[] = "go\n";
    bool asked = ::write(child.in, go, sizeof(go) - 1) == static_cast<ssize_t>(sizeof(go) - 1);
    ::close(child.in);
    child.in = -1;
    Status st = FinishTools({child}, {keep})[0];
    if (asked) return SelfChildStatus(n, "promote-facts", st);
    text->clear();  // it ended before it was asked: a new one looks
  }
  StopChild();
  return RunSelfChild(n, "promote-facts", keep);
}

void PromotionSession::StopChild() {
  if (child_.in >= 0) ::close(child_.in);
  child_.in = -1;
  // With its stdin closed it exits at once, printing nothing; FinishTools
  // reaps it (unless Tick took its exit already) and closes its pipes.
  if (child_.pid > 0 || child_.out >= 0) (void)FinishTools({child_}, {[](const std::string&) {}});
  child_ = StartedTool();
  child_env_.clear();
}

Status PromotionSession::Take(const Config& c, Lsn* received) {
  const char* kReceived =
      "SELECT GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text";
  std::string value;
  Status st = open_ ? conn_.QueryValue(kReceived, &value) : Status::State("not open");
  if (!st.ok()) {
    PGK_RETURN_IF_ERROR(Open(c));
    PGK_RETURN_IF_ERROR(conn_.QueryValue(kReceived, &value));
  }
  if (!ParseLsn(value, received)) *received = 0;
  return Status::Ok();
}

void PromotionSession::Release() {
  conn_.Close();
  open_ = false;
  StopChild();
}

void KeepPromotionReport(const Config& c, const std::string& report) {
  Status st = WriteFileAtomic(JoinPath(c.pgdata, kPromotionFile), report + "\n", 0600);
  if (!st.ok()) LogWarn("cannot keep the promotion report: " + st.message());
}

}  // namespace pgkeeper

#include "promotion.h"

#include <cstdio>

#include "fs.h"
#include "keeper.h"
#include "log.h"
#include "peers.h"
#include "pg.h"
#include "promote.h"
#include "rejoin.h"

namespace pgkeeper {
namespace {

// One value from the local server, over the Unix socket.
Status LocalValue(const Config& c, const std::string& sql, std::string* value) {
  PgConn conn;
  PGK_RETURN_IF_ERROR(conn.Connect(LocalParams(c.run_dir, c.port, c.superuser, "postgres")));
  return conn.QueryValue(sql, value);
}

// This node's received (or, after a restart, replayed) WAL position.
Status LocalReceived(const Config& c, Lsn* received) {
  std::string value;
  PGK_RETURN_IF_ERROR(LocalValue(
      c, "SELECT GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text", &value));
  if (!ParseLsn(value, received)) *received = 0;
  return Status::Ok();
}

// Where the timeline this node now writes on began: the last switch point
// in its history file.
Status PromotedAt(const Config& c, Lsn* at) {
  std::string file;
  PGK_RETURN_IF_ERROR(LocalValue(
      c, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) || '.history'", &file));
  std::string text;
  PGK_RETURN_IF_ERROR(ReadWholeFile(JoinPath(JoinPath(c.pgdata, "pg_wal"), file), &text));
  std::vector<HistoryEntry> history = ParseHistory(text);
  if (history.empty()) return Status::State("the history file " + file + " lists no switch point");
  *at = history.back().end;
  return Status::Ok();
}

}  // namespace

Status PromoteWithReport(const Node& n, bool force, std::string* report, bool signalled) {
  const Config& c = n.config;
  PromoteFacts f;
  f.force = force;
  f.upstream = MasterName(c);
  f.sync_required = c.sync_replicants;
  f.sync_strict = !c.sync_available;
  PGK_RETURN_IF_ERROR(LocalReceived(c, &f.received));
  f.heard = n.monitor->LastHeard();
  std::string text;
  if (f.heard.end == 0 && ReadWholeFile(JoinPath(c.pgdata, kHeardFile), &text).ok()) {
    ParseHeard(text, &f.heard);
  }
  if (ReadWholeFile(JoinPath(c.pgdata, kPeersFile), &text).ok()) ParsePeerList(text, &f.peer_list);
  text.clear();
  PromoteDecision d;
  Status st;
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
    st = RunSelfChild(n, "promote-facts", [&](const std::string& line) { text += line + "\n"; });
    if (!st.ok() || !ParsePromoteFacts(text, &f)) {
      return Status::Tool("cannot look at the old master and the other replicants before "
                          "promoting: " + (text.empty() ? st.message() : text));
    }
    d = DecidePromote(f);
    if (!d.go) return Status::State(d.reason);
  }
  LogInfo(d.reason);
  int64_t ms = 0;
  PGK_RETURN_IF_ERROR(PromoteLocal(c, &ms, signalled));
  n.monitor->SetPromoted();
  LogInfo("promoted to master in " + std::to_string(ms) + " ms; this node now accepts writes");
  f.now_ms = WallClockMs();
  Lsn at = 0;
  st = PromotedAt(c, &at);
  if (!st.ok()) {
    LogWarn("cannot tell where the new timeline begins: " + st.message());
    at = f.received;
  }
  PromotionReport r = ReportPromotion(f, at);
  *report = r.text;
  r.loss_impossible ? LogInfo("promotion report: " + r.text) : LogWarn("promotion report: " + r.text);
  n.monitor->SetPromotionReport(r.text);
  st = WriteFileAtomic(JoinPath(c.pgdata, kPromotionFile), r.text + "\n", 0600);
  if (!st.ok()) LogWarn("cannot keep the promotion report: " + st.message());
  return Status::Ok();
}

}  // namespace pgkeeper

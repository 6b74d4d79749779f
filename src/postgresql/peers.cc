#include "postgresql/peers.h"

#include <nlohmann/json.hpp>

#include <iostream>

#include "postgresql/follow.h"
#include "base/fs.h"
#include "postgresql/pg.h"
#include "postgresql/render.h"
#include "snapshot.h"
#include "postgresql/tls.h"

namespace pgkeeper {

using json = nlohmann::json;

namespace {

// A normal (not replication) login as the replication role, which every
// node lets in on any database: enough for pg_stat_replication rows of its
// own role and for pg_is_in_recovery().
ConnParams LoginAs(const Config& c, const std::string& host, int port) {
  return {{"host", host},
          {"port", std::to_string(port)},
          {"user", c.replication_login()},
          {"password", c.replication_login_password()},
          {"dbname", "postgres"},
          {"application_name", "pgkeeper_promote"},
          {"connect_timeout", "3"},
          // Whether a node answers and takes writes, not whether it is
          // trusted: a certificate that fails verification must not make
          // a running master look gone and allow a second writable one.
          {"sslmode", "prefer"}};
}

}  // namespace

std::vector<Peer> PeersToAsk(const Config& c, const PeerList& listed, const std::string& self_name) {
  std::vector<Peer> out;
  if (!c.peers.empty()) {
    for (const auto& p : c.peers) out.push_back(Peer{p, p});
    return out;
  }
  for (const auto& p : listed.peers) {
    if (p.name == self_name || p.address.empty() || p.address == "local") continue;
    out.push_back(Peer{p.name, HostPort{p.address, c.port}.Name()});  // [v6]:port
  }
  return out;
}

int RunUpstreamReplicants(const Env& env, const std::vector<std::string>& args) {
  Config c;
  Status st = ParseConfig(env, ReadWholeFile, &c);
  if (st.ok() && !args.empty()) st = Status::Usage("upstream-replicants takes no arguments");
  PgConn conn;
  if (st.ok()) st = conn.Connect(LoginAs(c, c.replicate_from, c.replicate_port));
  std::vector<std::vector<std::string>> rows;
  if (st.ok()) {
    st = conn.QueryRows(
        "SELECT current_setting('synchronous_standby_names'), application_name, "
        "  COALESCE(host(client_addr), '') "
        "FROM (SELECT 1) AS one LEFT JOIN pg_stat_replication ON true "
        "ORDER BY application_name",
        &rows);
  }
  if (!st.ok()) {
    std::cout << st.message() << std::endl;
    return st.exit_code();
  }
  PeerList list;
  list.at_ms = WallClockMs();
  for (const auto& r : rows) {
    list.standby_names = r[0];
    if (!r[1].empty()) list.peers.push_back(Peer{r[1], r[2]});
  }
  std::cout << RenderPeerList(list);
  return 0;
}

int RunPromoteFacts(const Env& env, const std::vector<std::string>& args) {
  Config c;
  Status st = ParseConfig(env, ReadWholeFile, &c);
  const bool when_asked = args.size() == 1 && args[0] == "--when-asked";
  if (st.ok() && !args.empty() && !when_asked) {
    st = Status::Usage("promote-facts takes no arguments but --when-asked");
  }
  // --when-asked: started ahead by the supervisor (PromotionSession), with
  // libpq loaded, and looks once a line arrives; nothing at end of input.
  if (st.ok() && when_asked) st = LoadLibpq();
  if (!st.ok()) {
    std::cout << st.message() << std::endl;
    return st.exit_code();
  }
  if (std::string line; when_asked && !std::getline(std::cin, line)) return 0;
  json out = {{"upstream_reached", false}, {"upstream_writable", false}, {"peers", json::array()}};
  if (c.is_replicant()) {
    PgConn up;
    std::string in_recovery;
    if (up.Connect(LoginAs(c, c.replicate_from, c.replicate_port)).ok() &&
        up.QueryValue("SELECT pg_is_in_recovery()", &in_recovery).ok()) {
      out["upstream_reached"] = true;
      out["upstream_writable"] = in_recovery == "f";
    }
  }
  PeerList listed;
  std::string text;
  if (ReadWholeFile(JoinPath(c.pgdata, kPeersFile), &text).ok()) ParsePeerList(text, &listed);
  const std::string self = ApplicationName(env.count("PGKEEPER_NODE_NAME") ? env.at("PGKEEPER_NODE_NAME") : "");
  for (const auto& peer : PeersToAsk(c, listed, self)) {
    Upstream at;
    json p = {{"name", peer.name}, {"address", peer.address}, {"reached", false},
              {"in_recovery", true}, {"received", ""}, {"error", ""}};
    Status parsed = ParseHostPort(peer.address, c.port, &at);
    PgConn conn;
    std::vector<std::vector<std::string>> rows;
    Status q = parsed.ok() ? conn.Connect(LoginAs(c, at.host, at.port)) : parsed;
    if (q.ok()) {
      q = conn.QueryRows("SELECT pg_is_in_recovery(), COALESCE(pg_last_wal_receive_lsn()::text, '')",
                         &rows);
    }
    if (q.ok()) {
      p["reached"] = true;
      p["in_recovery"] = rows[0][0] == "t";
      p["received"] = rows[0][1];
    } else {
      std::string e = q.message();
      p["error"] = e.substr(0, e.find('\n'));
    }
    out["peers"].push_back(p);
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

bool ParsePromoteFacts(const std::string& text, PromoteFacts* f) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("peers") || !j["peers"].is_array()) return false;
  f->upstream_reached = j.value("upstream_reached", false);
  f->upstream_writable = j.value("upstream_writable", false);
  f->peers.clear();
  for (const auto& p : j["peers"]) {
    if (!p.is_object()) return false;
    PeerPosition pos;
    pos.peer = Peer{p.value("name", ""), p.value("address", "")};
    pos.reached = p.value("reached", false);
    pos.in_recovery = p.value("in_recovery", true);
    pos.error = p.value("error", "");
    std::string received = p.value("received", "");
    if (!received.empty() && !ParseLsn(received, &pos.received)) return false;
    f->peers.push_back(pos);
  }
  return true;
}

}  // namespace pgkeeper

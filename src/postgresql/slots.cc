#include "postgresql/slots.h"

#include <unistd.h>

#include <cctype>
#include <iostream>

#include "base/fs.h"
#include "base/log.h"
#include "postgresql/render.h"

namespace pgkeeper {

std::string NodeName(const Config& c, const std::string& hostname) {
  return c.node_name.empty() ? hostname : c.node_name;
}

std::string SlotName(const std::string& node_name) {
  std::string out;
  for (char ch : node_name) {
    unsigned char u = static_cast<unsigned char>(ch);
    out.push_back(std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '_');
  }
  if (out.empty()) out = "pgkeeper";
  return out.substr(0, 63);
}

SlotDecision DecideSlot(const std::string& name, const std::string& upstream,
                        const UpstreamSlot& slot) {
  const std::string what = "slot " + name + " on " + upstream;
  if (!slot.exists) {
    return {SlotStep::kCreate, what + ": none yet; creating it, reserving WAL from now on"};
  }
  if (!slot.physical) {
    return {SlotStep::kRefuse,
            what + " is a logical slot, not this replicant's; give this node another name "
                   "with PGKEEPER_NODE_NAME, or drop that slot"};
  }
  if (slot.restart_lsn.empty()) {
    return {SlotStep::kRecreate,
            what + " holds no WAL (the upstream invalidated it because it held more than "
                   "WAL_RETAIN_MAX, or it was made without reserving); creating it again"};
  }
  return {SlotStep::kUse, what + " holds WAL from " + slot.restart_lsn + "; using it"};
}

namespace {

Status ReadSlot(PgConn& conn, const std::string& name, UpstreamSlot* slot) {
  std::vector<std::vector<std::string>> rows;
  // Columns: slot_type, restart_lsn, restart_tli; all NULL when there is no
  // such slot (PostgreSQL 15's READ_REPLICATION_SLOT).
  PGK_RETURN_IF_ERROR(conn.QueryRows("READ_REPLICATION_SLOT " + QuoteIdent(name), &rows));
  *slot = UpstreamSlot();
  if (rows.empty() || rows[0].size() < 2 || rows[0][0].empty()) return Status::Ok();
  slot->exists = true;
  slot->physical = rows[0][0] == "physical";
  slot->restart_lsn = rows[0][1];
  return Status::Ok();
}

}  // namespace

Status EnsureUpstreamSlot(const ConnParams& params, const std::string& name,
                          const std::string& upstream, std::string* sentence) {
  PgConn conn;
  PGK_RETURN_IF_ERROR(conn.Connect(params));
  UpstreamSlot slot;
  PGK_RETURN_IF_ERROR(ReadSlot(conn, name, &slot));
  SlotDecision d = DecideSlot(name, upstream, slot);
  *sentence = d.reason;
  switch (d.step) {
    case SlotStep::kUse: return Status::Ok();
    case SlotStep::kRefuse: return Status::State(d.reason);
    case SlotStep::kRecreate:
      // Fails while a walsender uses it; the next attempt tries again.
      PGK_RETURN_IF_ERROR(conn.Exec("DROP_REPLICATION_SLOT " + QuoteIdent(name)));
      [[fallthrough]];
    case SlotStep::kCreate: {
      Status st = conn.Exec("CREATE_REPLICATION_SLOT " + QuoteIdent(name) + " PHYSICAL RESERVE_WAL");
      if (!st.ok()) return Status::Tool("cannot create " + name + " on " + upstream + ": " + st.message());
      PGK_RETURN_IF_ERROR(ReadSlot(conn, name, &slot));
      *sentence += " (now from " + (slot.restart_lsn.empty() ? "?" : slot.restart_lsn) + ")";
      return Status::Ok();
    }
  }
  return Status::Ok();
}

int RunEnsureSlot(const Env& env) {
  Config c;
  Status st = ParseConfig(env, ReadWholeFile, &c);
  if (st.ok() && !c.is_replicant()) st = Status::Config("ensure-slot: REPLICATE_FROM is not set");
  if (!st.ok()) {
    std::cout << st.message() << std::endl;
    return st.exit_code();
  }
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || !host[0]) std::snprintf(host, sizeof(host), "pgkeeper");
  const std::string upstream = c.replicate_from + ":" + std::to_string(c.replicate_port);
  ConnParams params = {{"host", c.replicate_from},
                       {"port", std::to_string(c.replicate_port)},
                       {"user", c.replication_login()},
                       {"passfile", JoinPath(c.run_dir, kPassFileName)},
                       {"replication", "true"},
                       {"application_name", "pgkeeper_slot"},
                       // Short: the supervisor waits for this check, and a
                       // follow request (a new master) waits behind it.
                       {"connect_timeout", "2"}};
  std::string sentence;
  st = EnsureUpstreamSlot(params, SlotName(NodeName(c, host)), upstream, &sentence);
  std::cout << (st.ok() ? sentence : st.message()) << std::endl;
  return st.exit_code();
}

Status DropLocalSlot(PgConn& conn, const std::string& name) {
  std::vector<std::vector<std::string>> rows;
  PGK_RETURN_IF_ERROR(conn.QueryRows(
      "SELECT active, COALESCE((SELECT application_name FROM pg_stat_replication r "
      "                         WHERE r.pid = s.active_pid), '') "
      "FROM pg_replication_slots s WHERE slot_name = " + QuoteLiteral(name),
      &rows));
  if (rows.empty()) return Status::State("there is no replication slot named " + name + " here");
  if (rows[0][0] == "t") {
    std::string who = rows[0][1].empty() ? "a replicant" : "replicant " + rows[0][1];
    return Status::State(who + " streams through slot " + name +
                         " right now; stop that replicant first (its slot is made again when "
                         "it starts)");
  }
  return conn.Exec("SELECT pg_drop_replication_slot(" + QuoteLiteral(name) + ")");
}

}  // namespace pgkeeper

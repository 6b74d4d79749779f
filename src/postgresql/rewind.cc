#include "postgresql/rewind.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "postgresql/clone.h"
#include "postgresql/datadir.h"
#include "base/fs.h"
#include "base/log.h"
#include "postgresql/pg.h"
#include "postgresql/rejoin.h"
#include "postgresql/render.h"
#include "postgresql/swap.h"
#include "postgresql/tls.h"

namespace pgkeeper {
namespace {

using json = nlohmann::json;

struct UpstreamFacts {
  std::string system_id;
  int tli = 0;
  Lsn lsn = 0;
  std::string history;
  int64_t data_bytes = 0;  // sum of its databases' sizes
};

// A `pgkeeper upstream-facts ARGS` child for RunTools; what it prints goes
// to *text. REQUIRES: *text outlives the run.
ToolRun UpstreamFactsRun(const Node& n, const std::vector<std::string>& args, std::string* text) {
  return ToolRun{SelfChildSpec(n, "upstream-facts", args),
                 [text](const std::string& line) { *text += line + "\n"; }};
}

// The JSON object an upstream-facts child printed, given how it ended.
Status UpstreamJson(const Node& n, const Status& run, std::string text, json* out) {
  Status st = SelfChildStatus(n, "upstream-facts", run);
  if (!st.ok()) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return Status::Tool("cannot ask " + MasterName(n.config) + " about its history: " +
                        (text.empty() ? st.message() : text));
  }
  *out = json::parse(text, nullptr, false);
  if (out->is_discarded() || !out->is_object()) {
    return Status::Tool("upstream-facts printed something that is not its JSON: " + text);
  }
  return Status::Ok();
}

// What `upstream-facts --checkpoint` found: the checkpoint first makes
// pg_control on a freshly promoted upstream show its new timeline to
// pg_rewind.
Status UpstreamFactsFrom(const Node& n, const Status& run, const std::string& text,
                         UpstreamFacts* out) {
  json j;
  PGK_RETURN_IF_ERROR(UpstreamJson(n, run, text, &j));
  if (!j.contains("system_id")) return Status::Tool("upstream-facts: no system identifier");
  out->system_id = j.value("system_id", "");
  out->tli = j.value("timeline", 0);
  if (!ParseLsn(j.value("lsn", ""), &out->lsn)) return Status::Tool("upstream-facts: bad lsn");
  out->history = j.value("history", "");
  out->data_bytes = j.value("data_bytes", int64_t{0});
  return Status::Ok();
}

// What `upstream-facts --names` found: "db.schema.table" by "DB-OID/RELFILENODE".
Status UpstreamNamesFrom(const Node& n, const Status& run, const std::string& text,
                         std::map<std::string, std::string>* names) {
  json j;
  PGK_RETURN_IF_ERROR(UpstreamJson(n, run, text, &j));
  *names = j.value("names", std::map<std::string, std::string>{});
  return Status::Ok();
}

// Runs a PostgreSQL tool as postgres and hands every output line to on_line;
// its exit code is left to the caller's judgement (pg_waldump ends with an
// error at the end of WAL).
SpawnSpec PgToolSpec(const Node& n, std::vector<std::string> argv) {
  SpawnSpec spec;
  argv[0] = n.config.pg_bin + "/" + argv[0];
  spec.argv = std::move(argv);
  spec.env = BaseEnv(n);
  for (auto& e : UpstreamTlsEnv(n.config)) spec.env.push_back(std::move(e));
  return spec;
}

Status RunPgTool(const Node& n, std::vector<std::string> argv,
                 const std::function<void(const std::string&)>& on_line) {
  return RunTool(PgToolSpec(n, std::move(argv)), on_line);
}

}  // namespace

Status ReadControlData(const Node& n, ControlData* out) {
  std::string text;
  Status st = RunPgTool(n, {"pg_controldata", "-D", n.config.pgdata},
                        [&](const std::string& line) { text += line + "\n"; });
  if (!st.ok()) return Status::Tool("pg_controldata failed: " + st.message() + ": " + text);
  if (!ParseControlData(text, out)) return Status::Tool("cannot read pg_controldata's output");
  return Status::Ok();
}

namespace {

// Copies the WAL segments from the fork point to the end of this node's WAL,
// and its history files, into a new folder beside PGDATA, durably.
Status SaveDiscardedWal(const Node& n, const ControlData& cd, Lsn from, Lsn to,
                        std::string* folder) {
  *folder = JoinPath(RejoinDir(n.config.pgdata), "discarded-" + UtcNow("%Y%m%dT%H%M%SZ"));
  PGK_RETURN_IF_ERROR(MakeDirs(*folder, 0700));
  const std::string wal = JoinPath(n.config.pgdata, "pg_wal");
  const std::string first = WalFileName(cd.tli, from, cd.wal_segment_bytes);
  const std::string last = WalFileName(cd.tli, to, cd.wal_segment_bytes);
  std::vector<std::string> names;
  PGK_RETURN_IF_ERROR(ListDir(wal, &names));
  int copied = 0;
  for (const auto& name : names) {
    bool segment = name.size() == 24 && name.substr(0, 8) == first.substr(0, 8) &&
                   name >= first && name <= last;
    bool history = name.size() > 8 && name.substr(name.size() - 8) == ".history";
    if (!segment && !history) continue;
    // The last segment only up to the end of its WAL: a 16 MB copy and
    // fsync cost more than the rest of the report together.
    const int64_t head = segment && name == last ? WalHeadBytes(to, cd.wal_segment_bytes) : -1;
    Status st = CopyFileHead(JoinPath(wal, name), JoinPath(*folder, name), head, 0600);
    if (!st.ok()) return Status::System("cannot keep " + name + " in " + *folder + ": " + st.message());
    copied += segment ? 1 : 0;
  }
  if (copied == 0) LogWarn("no WAL segment of " + first + ".." + last + " was left in " + wal);
  return SyncDir(*folder);
}

Status WriteRejoinState(const std::string& datadir, const std::string& report) {
  std::string line = report;
  std::replace(line.begin(), line.end(), '\n', ' ');
  return WriteFileAtomic(JoinPath(datadir, "pgkeeper.state"),
                         "# Written by pgkeeper: how this data directory was made.\n"
                         "origin=rejoined\ndiscarded=" + line + "\n",
                         0600);
}

// pg_rewind from the new master into PGDATA, in place (see rewind.h), and
// beside it this node's slot on the new master (*slot_sentence says how that
// went; *slot_status its result).
Status RunRewind(const Node& n, std::string* slot_sentence, Status* slot_status) {
  const Config& c = n.config;
  const std::string passfile = JoinPath(c.run_dir, "pgpass-rewind");
  PGK_RETURN_IF_ERROR(WriteFileAtomic(
      passfile, RenderPgpass("*", c.replicate_port, c.superuser, c.superuser_password), 0600));
  const std::string source = "host=" + QuoteConninfo(c.replicate_from) +
                             " port=" + std::to_string(c.replicate_port) +
                             " user=" + QuoteConninfo(c.superuser) + " dbname=postgres" +
                             " passfile=" + QuoteConninfo(passfile) + " connect_timeout=10";
  const std::string marker = RewindMarkerPath(c.pgdata);
  PGK_RETURN_IF_ERROR(WriteFileAtomic(marker, "pg_rewind from " + MasterName(c) + "\n", 0600));
  std::vector<Status> done = RunTools(
      {ToolRun{PgToolSpec(n, {"pg_rewind", "--target-pgdata=" + c.pgdata, "--source-server=" + source}),
               [](const std::string& line) { LogInfo("pg_rewind: " + line); }},
       EnsureSlotRun(n, slot_sentence)});
  const Status& st = done[0];
  *slot_status = EnsureSlotResult(n, done[1], slot_sentence);
  Status rm = RemoveTree(passfile);
  if (!rm.ok()) LogWarn(rm.message());
  PGK_RETURN_IF_ERROR(st);
  return Status::Ok();
}

}  // namespace

Status Rejoin(Node& n) {
  const Config& c = n.config;
  const std::string upstream = MasterName(c);
  auto start = std::chrono::steady_clock::now();
  PGK_RETURN_IF_ERROR(WaitForMaster(n));
  PGK_RETURN_IF_ERROR(CheckUpstreamTls(n));
  n.monitor->SetPhase("rejoining", "comparing this node's history with " + upstream + "'s");

  ControlData cd;
  PGK_RETURN_IF_ERROR(ReadControlData(n, &cd));
  std::string local_history;
  if (cd.tli > 1) {
    char name[32];
    std::snprintf(name, sizeof(name), "%08X.history", static_cast<unsigned>(cd.tli));
    PGK_RETURN_IF_ERROR(ReadWholeFile(JoinPath(JoinPath(c.pgdata, "pg_wal"), name), &local_history));
  }
  // The upstream's facts and the names of its tables (for the report) side
  // by side: each child is mostly a login and a wait.
  std::string facts_text, names_text;
  std::vector<Status> asked = RunTools({UpstreamFactsRun(n, {"--checkpoint"}, &facts_text),
                                        UpstreamFactsRun(n, {"--names"}, &names_text)});
  UpstreamFacts up;
  PGK_RETURN_IF_ERROR(UpstreamFactsFrom(n, asked[0], facts_text, &up));
  if (up.system_id != cd.system_id) {
    return Status::State("cannot rejoin " + upstream + ": it is another database cluster (system "
                         "identifier " + up.system_id + ", this data " + cd.system_id +
                         "); nothing was changed");
  }
  Fork fork = FindFork(cd.tli, ParseHistory(local_history), up.tli, ParseHistory(up.history));

  // This node's WAL from the fork point (or, on one timeline, from the
  // upstream's position) to its end.
  Lsn from = fork.diverged ? fork.lsn : up.lsn;
  WalSummarizer summarizer;
  Status dump = RunPgTool(n, {"pg_waldump", "-p", JoinPath(c.pgdata, "pg_wal"), "-t",
                              std::to_string(cd.tli), "-s", FormatLsn(from)},
                          [&](const std::string& line) { summarizer.Add(line); });
  (void)dump;  // pg_waldump exits with an error at the end of the WAL
  WalSummary wal = summarizer.Result();
  if (wal.end == 0) wal.end = std::max(from, cd.checkpoint);
  if (!fork.diverged && wal.end > up.lsn) {
    return Status::State("cannot rejoin " + upstream + ": it is on this node's own timeline " +
                         std::to_string(cd.tli) + " and behind it (" + FormatLsn(up.lsn) +
                         " against " + FormatLsn(wal.end) + "), so it is not a new master of this "
                         "data (is it one of this node's replicants?); nothing was changed");
  }
  if (!fork.diverged) fork = Fork{false, cd.tli, up.lsn};

  DiscardReport report;
  report.upstream = upstream;
  report.fork = fork;
  report.local_tli = cd.tli;
  report.wal = wal;
  const bool discards = wal.end > fork.lsn;
  if (discards) {
    std::map<std::string, std::string> names;
    Status st = UpstreamNamesFrom(n, asked[1], names_text, &names);
    if (!st.ok()) LogWarn(st.message() + "; the report names tables by number");
    for (const auto& [db, node] : wal.relations) {
      auto it = names.find(std::to_string(db) + "/" + std::to_string(node));
      if (it != names.end()) report.names.insert(*it);
    }
    PGK_RETURN_IF_ERROR(SaveDiscardedWal(n, cd, fork.lsn, wal.end, &report.saved_to));
  }
  const std::string text = RenderDiscardReport(report);
  if (!report.saved_to.empty()) {
    PGK_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(report.saved_to, "report.txt"), text + "\n", 0600));
  }
  (discards ? LogWarn(text) : LogInfo(text));

  RejoinCosts costs;
  costs.data_bytes = up.data_bytes;
  if (costs.data_bytes <= 0) PGK_RETURN_IF_ERROR(TreeBytes(c.pgdata, &costs.data_bytes));
  costs.local_since_fork = static_cast<int64_t>(wal.end > fork.lsn ? wal.end - fork.lsn : 0);
  costs.upstream_since_fork = static_cast<int64_t>(up.lsn > fork.lsn ? up.lsn - fork.lsn : 0);
  RejoinChoice choice = ChooseRejoinPath(costs);
  LogInfo("rejoin path: " + choice.reason);

  Status st = Status::Ok();
  std::string slot;
  Status slot_st = Status::Ok();
  if (choice.path == RejoinPath::kRewind) {
    n.monitor->SetPhase("rejoining", "pg_rewind from " + upstream);
    st = RunRewind(n, &slot, &slot_st);
    if (!st.ok()) {
      LogError("pg_rewind failed (" + st.message() + "); taking a fresh copy of " + upstream +
               " instead");
      choice.path = RejoinPath::kClone;
    }
  }
  if (choice.path == RejoinPath::kClone) {
    PGK_RETURN_IF_ERROR(Clone(n));  // makes the slot first
  } else {
    PGK_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(c.pgdata, "standby.signal"), "", 0600));
    if (choice.path == RejoinPath::kFollow) slot_st = EnsureSlotInChild(n, &slot);
    slot_st.ok() ? LogInfo(slot) : LogWarn("replication slot: " + slot);
  }
  PGK_RETURN_IF_ERROR(WriteRejoinState(c.pgdata, text));
  PGK_RETURN_IF_ERROR(RemoveTree(RewindMarkerPath(c.pgdata)));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  LogInfo("rejoined " + upstream + " by " + RejoinPathName(choice.path) + " in " +
          std::to_string(ms) + " ms; " + (discards ? "discarded what the report above lists" : "nothing discarded"));
  return Status::Ok();
}

namespace {

// "db.schema.table" for every relation with storage the upstream has, by
// "DB-OID/RELFILENODE", as pg_waldump names them: one login per database
// (the first, to postgres, also lists the databases).
json NamesOnUpstream(ConnParams super) {
  json names = json::object();
  PgConn admin;
  std::vector<std::vector<std::string>> dbs;
  if (!admin.Connect(super).ok() ||
      !admin.QueryRows("SELECT oid::text, datname FROM pg_database "
                       "WHERE datallowconn AND NOT datistemplate ORDER BY datname = 'postgres' DESC",
                       &dbs).ok()) {
    return names;
  }
  for (const auto& db : dbs) {
    PgConn other;
    PgConn* conn = &admin;
    if (db[1] != "postgres") {
      super["dbname"] = db[1];
      if (!other.Connect(super).ok()) continue;
      conn = &other;
    }
    std::vector<std::vector<std::string>> rels;
    if (!conn->QueryRows("SELECT pg_relation_filenode(oid)::text, oid::regclass::text FROM pg_class "
                         "WHERE pg_relation_filenode(oid) IS NOT NULL",
                         &rels).ok()) {
      continue;
    }
    for (const auto& r : rels) names[db[0] + "/" + r[0]] = db[1] + "." + r[1];
  }
  return names;
}

}  // namespace

int RunUpstreamFacts(const Env& env, const std::vector<std::string>& args) {
  bool checkpoint = false;
  bool names_only = false;
  for (const auto& a : args) {
    if (a == "--checkpoint") {
      checkpoint = true;
    } else if (a == "--names") {
      names_only = true;
    } else {
      std::cout << "upstream-facts: unknown argument " << a << std::endl;
      return static_cast<int>(ExitCode::kUsage);
    }
  }
  Config c;
  Status st = ParseConfig(env, ReadWholeFile, &c);
  auto fail = [](const Status& s) {
    std::cout << s.message() << std::endl;
    return s.exit_code();
  };
  if (!st.ok()) return fail(st);
  ConnParams base = {{"host", c.replicate_from},
                     {"port", std::to_string(c.replicate_port)},
                     {"application_name", "pgkeeper_rejoin"},
                     {"connect_timeout", "10"}};
  ConnParams super = base;
  super["user"] = c.superuser;
  super["password"] = c.superuser_password;
  super["dbname"] = "postgres";
  if (names_only) {
    std::cout << json{{"names", NamesOnUpstream(super)}}.dump() << std::endl;
    return 0;
  }
  ConnParams repl = base;
  repl["user"] = c.replication_login();
  repl["password"] = c.replication_login_password();
  repl["replication"] = "true";
  PgConn conn;
  if (!(st = conn.Connect(repl)).ok()) return fail(st);
  std::vector<std::vector<std::string>> rows;
  if (!(st = conn.QueryRows("IDENTIFY_SYSTEM", &rows)).ok() || rows.empty()) return fail(st);
  json out = {{"system_id", rows[0][0]}, {"timeline", std::atoi(rows[0][1].c_str())},
              {"lsn", rows[0][2]}, {"history", ""}};
  if (out["timeline"].get<int>() > 1) {
    if (!(st = conn.QueryRows("TIMELINE_HISTORY " + rows[0][1], &rows)).ok() || rows.empty()) {
      return fail(st);
    }
    out["history"] = rows[0][1];
  }
  PgConn admin;
  if (!(st = admin.Connect(super)).ok()) return fail(st);
  if (checkpoint && !(st = admin.Exec("CHECKPOINT")).ok()) return fail(st);
  std::string bytes;
  if (!(st = admin.QueryValue("SELECT sum(pg_database_size(oid))::bigint FROM pg_database", &bytes)).ok()) {
    return fail(st);
  }
  out["data_bytes"] = std::atoll(bytes.c_str());
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace pgkeeper

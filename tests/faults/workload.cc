// The fault suite's client: writes numbered rows, one per transaction, and
// records what became of each, Jepsen style, one line per operation:
//
//   <ms since epoch> ok   <id> <lsn>     acknowledged: must survive
//   <ms since epoch> fail <id> <state>   refused by the server: not applied
//   <ms since epoch> info <id> <error>   the connection broke: unknown
//
// <lsn> is pg_current_wal_insert_lsn() inside the transaction, just before
// its commit record: a checker compares it with a promotion report.
// The password comes from PGPASSWORD (never argv). With several hosts in
// the connection string and target_session_attrs=read-write, the client
// follows whichever node is the writable master.
//
// usage: pgkeeper-workload CONNINFO HISTORY_FILE SECONDS [FIRST_ID]
#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string OneLine(const char* text) {
  std::string s = text ? text : "";
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s CONNINFO HISTORY_FILE SECONDS [FIRST_ID]\n", argv[0]);
    return 2;
  }
  const std::string conninfo = argv[1];
  FILE* history = std::fopen(argv[2], "a");
  if (!history) {
    std::perror(argv[2]);
    return 1;
  }
  const long long deadline = NowMs() + std::atoll(argv[3]) * 1000;
  long long id = argc > 4 ? std::atoll(argv[4]) : 1;
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);

  PGconn* conn = nullptr;
  long long ok = 0, fail = 0, info = 0;
  while (!g_stop && NowMs() < deadline) {
    if (!conn) {
      conn = PQconnectdb(conninfo.c_str());
      if (PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        conn = nullptr;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      // No autovacuum on it: then every transaction an old master commits
      // after a fork is one of these inserts, and a rejoin report's count
      // of them can be compared with the lost writes exactly.
      PGresult* r = PQexec(conn, "CREATE TABLE IF NOT EXISTS ledger (id bigint PRIMARY KEY, "
                                 "at timestamptz NOT NULL DEFAULT now()) "
                                 "WITH (autovacuum_enabled = off)");
      PQclear(r);
    }
    const std::string sql = "INSERT INTO ledger (id) VALUES (" + std::to_string(id) +
                            ") RETURNING pg_current_wal_insert_lsn()";
    PGresult* r = PQexec(conn, sql.c_str());
    const long long at = NowMs();
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
      std::fprintf(history, "%lld ok %lld %s\n", at, id, PQgetvalue(r, 0, 0));
      ++ok;
    } else if (PQstatus(conn) == CONNECTION_BAD) {
      std::fprintf(history, "%lld info %lld %s\n", at, id, OneLine(PQerrorMessage(conn)).c_str());
      ++info;
      PQfinish(conn);
      conn = nullptr;
    } else {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      std::fprintf(history, "%lld fail %lld %s %s\n", at, id, state ? state : "?",
                   OneLine(PQresultErrorMessage(r)).c_str());
      ++fail;
      // A server that went read-only (a demoted master) answers every write
      // this way: look for the writable one again.
      PQfinish(conn);
      conn = nullptr;
    }
    PQclear(r);
    std::fflush(history);
    ++id;
  }
  if (conn) PQfinish(conn);
  std::fclose(history);
  std::printf("workload: %lld acknowledged, %lld refused, %lld unknown; next id %lld\n", ok, fail,
              info, id);
  return 0;
}

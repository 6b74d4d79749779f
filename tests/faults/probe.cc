// The cluster fault suite's split-brain probe: every INTERVAL ms, one write
// to each node's own address in turn (not through HAProxy), recorded one
// line per attempt:
//
//   <round> <start ms> <end ms> <node index> ok|fail [error]
//
// A round in which two nodes accepted a write means two writable masters
// at once; check_probe.py reads the file. Each write is a one-row INSERT
// into probe_writes with synchronous_commit = local (the question is
// whether a node takes writes, not whether its replicants confirm them);
// a node that refuses (read-only, stopped, unreachable) costs at most the
// connect and statement timeouts. Sessions are kept while they last. The password comes from PGPASSWORD.
//
// usage: pgkeeper-probe HISTORY_FILE SECONDS INTERVAL_MS CONNINFO...
#include <libpq-fe.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

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

// One write on *conn (connecting first when needed); "" when accepted,
// else why not. A failed connection is dropped, to be made again.
std::string WriteOnce(PGconn** conn, const std::string& conninfo, int node, long long round) {
  if (!*conn) {
    *conn = PQconnectdb(conninfo.c_str());
    if (PQstatus(*conn) != CONNECTION_OK) {
      std::string why = OneLine(PQerrorMessage(*conn));
      PQfinish(*conn);
      *conn = nullptr;
      return why.empty() ? "cannot connect" : why;
    }
    PQclear(PQexec(*conn, "SET synchronous_commit = local; SET statement_timeout = 1000"));
  }
  const std::string sql = "INSERT INTO probe_writes (round, node) VALUES (" +
                          std::to_string(round) + ", " + std::to_string(node) + ")";
  PGresult* r = PQexec(*conn, sql.c_str());
  std::string why;
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    why = OneLine(PQresultErrorMessage(r));
    if (why.empty()) why = OneLine(PQerrorMessage(*conn));
    if (why.empty()) why = "failed";
    // A read-only node keeps its session: once promoted it takes writes on
    // it, and a new login each round would slow the rounds down.
    if (PQstatus(*conn) == CONNECTION_BAD) {
      PQfinish(*conn);
      *conn = nullptr;
    }
  }
  PQclear(r);
  return why;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s HISTORY_FILE SECONDS INTERVAL_MS CONNINFO...\n", argv[0]);
    return 2;
  }
  FILE* history = std::fopen(argv[1], "a");
  if (!history) {
    std::perror(argv[1]);
    return 1;
  }
  const long long deadline = NowMs() + std::atoll(argv[2]) * 1000;
  const long long interval = std::atoll(argv[3]);
  std::vector<std::string> nodes(argv + 4, argv + argc);
  std::vector<PGconn*> conns(nodes.size(), nullptr);
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);

  long long round = 0, accepted = 0;
  while (!g_stop && NowMs() < deadline) {
    const long long begin = NowMs();
    for (size_t i = 0; i < nodes.size(); ++i) {
      const long long start = NowMs();
      std::string why = WriteOnce(&conns[i], nodes[i], static_cast<int>(i), round);
      const long long end = NowMs();
      if (why.empty()) ++accepted;
      std::fprintf(history, "%lld %lld %lld %zu %s%s%s\n", round, start, end, i,
                   why.empty() ? "ok" : "fail", why.empty() ? "" : " ", why.c_str());
    }
    std::fflush(history);
    ++round;
    const long long spent = NowMs() - begin;
    if (spent < interval) std::this_thread::sleep_for(std::chrono::milliseconds(interval - spent));
  }
  for (PGconn* c : conns) {
    if (c) PQfinish(c);
  }
  std::fclose(history);
  std::printf("probe: %lld rounds, %lld writes accepted\n", round, accepted);
  return 0;
}

// Operability against real PostgreSQL: the HTTP API's answers for each role
// and state, `pgkeeper status`, and `pgkeeper promote` on a live replicant.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

using nlohmann::json;

// The node's /status; an empty object while nothing answers.
json StatusOf(Node& node) {
  std::string body;
  if (node.Http("/status", &body) != 200) return json::object();
  json j = json::parse(body, nullptr, false);
  return j.is_discarded() ? json::object() : j;
}

// The postmaster's PID, from the first line of postmaster.pid.
pid_t PostmasterPid(const Node& node) {
  std::string pid = ReadFile(node.pgdata() + "/postmaster.pid");
  return static_cast<pid_t>(std::atoi(pid.c_str()));
}

// Sends sig to the postmaster and each of its children (every backend is a
// process group of its own, so a group signal would miss them).
void SignalServer(pid_t postmaster, int sig) {
  std::vector<pid_t> pids = {postmaster};
  for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
    std::string status = ReadFile(proc.path().string() + "/status");
    size_t at = status.find("\nPPid:\t");
    if (at != std::string::npos && std::atoi(status.c_str() + at + 7) == postmaster) {
      pids.push_back(std::atoi(proc.path().filename().c_str()));
    }
  }
  for (pid_t pid : pids) kill(pid, sig);
}

TEST(Api, MasterAndStreamingReplicantAnswerLikePatroni) {
  Pair p;
  p.Start();
  p.replicant.WaitLog("streaming from");
  ASSERT_TRUE(WaitFor([&] { return p.replicant.Http("/replica") == 200; }, seconds(10)));

  struct Case {
    std::string path;
    int master, replicant;
  };
  for (const Case& c : std::vector<Case>{{"/", 200, 503},
                                         {"/primary", 200, 503},
                                         {"/master", 200, 503},
                                         {"/read-write", 200, 503},
                                         {"/replica", 503, 200},
                                         {"/replica?lag=16MB", 503, 200},
                                         {"/replica?lag=10s", 503, 200},
                                         {"/read-only", 200, 200},
                                         {"/health", 200, 200},
                                         {"/liveness", 200, 200},
                                         {"/readiness", 200, 200},
                                         {"/status", 200, 200},
                                         {"/metrics", 200, 200},
                                         {"/replica?lag=abc", 400, 400},
                                         {"/no-such-endpoint", 404, 404}}) {
    EXPECT_EQ(p.master.Http(c.path), c.master) << "master " << c.path;
    EXPECT_EQ(p.replicant.Http(c.path), c.replicant) << "replicant " << c.path;
  }
  // HAProxy checks with OPTIONS or HEAD: same codes, no body.
  std::string body = "unset";
  EXPECT_EQ(p.master.Http("/primary", &body, "OPTIONS"), 200);
  EXPECT_EQ(body, "");
  EXPECT_EQ(p.replicant.Http("/primary", &body, "HEAD"), 503);
  EXPECT_EQ(body, "");
  EXPECT_EQ(p.master.Http("/primary", nullptr, "POST"), 405);

  // The master's facts are polled once a second: the one before may still
  // show the clone's own WAL stream (state "backup") instead of the replicant.
  json m;
  ASSERT_TRUE(WaitFor(
      [&] {
        json list = (m = StatusOf(p.master)).value("replicants", json::array());
        return list.size() == 1 && list[0].value("state", "") == "streaming";
      },
      seconds(10)))
      << m.dump();
  EXPECT_EQ(m["role"], "master");
  json r = StatusOf(p.replicant);
  EXPECT_EQ(r["role"], "replicant");
  EXPECT_EQ(r["streaming"], true);
  EXPECT_EQ(r["timeline"], 1);
  EXPECT_TRUE(r["lag_bytes"].is_number());
}

TEST(Api, MetricsPassPromtool) {
  Pair p;
  p.Start();
  for (Node* node : {&p.master, &p.replicant}) {
    std::string metrics;
    ASSERT_EQ(node->Http("/metrics", &metrics), 200);
    EXPECT_NE(metrics.find("pgkeeper_postgres_up 1"), std::string::npos) << metrics;
    std::string file = p.scratch.path() + "/metrics.txt";
    WriteFile(file, metrics);
    std::string cmd = "promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1";
    EXPECT_EQ(system(cmd.c_str()), 0) << ReadFile(file + ".out") << "\n" << metrics;
  }
}

TEST(Api, ReplicantWhoseMasterIsGoneIsNoLongerAReplicaButStillServesReads) {
  Pair p;
  p.Start();
  ASSERT_TRUE(WaitFor([&] { return p.replicant.Http("/replica") == 200; }, seconds(10)));
  EXPECT_EQ(p.master.Stop(), 0);
  EXPECT_TRUE(WaitFor([&] { return p.replicant.Http("/replica") == 503; }, seconds(15)));
  EXPECT_EQ(p.replicant.Http("/read-only"), 200);
  EXPECT_EQ(p.replicant.Http("/primary"), 503);
  json s = StatusOf(p.replicant);
  EXPECT_EQ(s["streaming"], false);
  EXPECT_TRUE(s["lag_bytes"].is_null()) << s.dump();  // unknown, not 0
}

TEST(Api, CloningReplicantIsAliveButNotReadyAndShowsProgress) {
  Pair p(Vars{{"PGKEEPER_CLONE_MAX_RATE", "32"}});
  p.master.Start();
  p.master.WaitHealthy();
  p.replicant.Start();
  ASSERT_TRUE(WaitFor(
      [&] { return StatusOf(p.replicant).value("/clone/done_bytes"_json_pointer, int64_t{0}) > 0; },
      seconds(60)))
      << p.replicant.Log();
  json s = StatusOf(p.replicant);
  EXPECT_EQ(s["role"], "cloning");
  EXPECT_EQ(s["clone"]["active"], true);
  EXPECT_GT(s["clone"]["total_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(p.replicant.Http("/liveness"), 200);
  EXPECT_EQ(p.replicant.Http("/readiness"), 503);
  EXPECT_EQ(p.replicant.Http("/replica"), 503);
  std::string metrics;
  p.replicant.Http("/metrics", &metrics);
  EXPECT_NE(metrics.find("pgkeeper_clone_active 1"), std::string::npos);
  // The default health check keeps a copying replicant alive; --ready does not.
  std::string out;
  EXPECT_EQ(p.replicant.Run("health", &out), 0) << out;
  EXPECT_NE(out.find("alive, not ready: cloning"), std::string::npos) << out;
  EXPECT_EQ(p.replicant.Run("health --ready"), 1);
  p.replicant.WaitLog("clone progress: ", seconds(30));
  EXPECT_TRUE(p.replicant.LogContains("/s, about "));
}

TEST(Api, KeepsAnsweringWhilePostgresIsHung) {
  Scratch scratch;
  Node master(scratch, "master");
  master.Start();
  master.WaitHealthy();
  pid_t postmaster = PostmasterPid(master);
  ASSERT_GT(postmaster, 0);
  // A hung server: every postgres process stops; connections are accepted
  // by the kernel but never answered, queries in flight never return.
  SignalServer(postmaster, SIGSTOP);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) EXPECT_NE(master.Http("/health"), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
  // Once the facts are too old to vouch for, role checks fail.
  EXPECT_TRUE(WaitFor([&] { return master.Http("/primary") == 503; }, seconds(30)));
  EXPECT_EQ(master.Http("/liveness"), 200);
  SignalServer(postmaster, SIGCONT);
  EXPECT_TRUE(WaitFor([&] { return master.Http("/primary") == 200; }, seconds(30)));
}

TEST(Api, StatusCommandShowsBothNodesWithLag) {
  Pair p;
  p.Start();
  p.replicant.WaitLog("streaming from");
  std::string out;
  ASSERT_EQ(p.master.Run("status", &out), 0) << out;
  EXPECT_NE(out.find("role        master"), std::string::npos) << out;
  EXPECT_NE(out.find("replicants  1"), std::string::npos) << out;
  ASSERT_EQ(p.replicant.Run("status", &out), 0) << out;
  EXPECT_NE(out.find("role        replicant"), std::string::npos) << out;
  EXPECT_NE(out.find("(streaming)"), std::string::npos) << out;
  EXPECT_NE(out.find("lag "), std::string::npos) << out;
  ASSERT_EQ(p.replicant.Run("status --json", &out), 0) << out;
  json j = json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["role"], "replicant");
  EXPECT_EQ(p.replicant.Run("status --bogus"), 2);
}

TEST(Api, PromoteCommandMakesALiveReplicantWritableAndRecordsIt) {
  Pair p;
  p.Start();
  EXPECT_EQ(p.master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  p.replicant.WaitQuery("SELECT x FROM t", "1");
  std::string out;
  EXPECT_EQ(p.master.Run("promote", &out), 4) << out;
  EXPECT_NE(out.find("already a master"), std::string::npos) << out;

  // With its master up and writable, the replicant refuses (promote_test.cc
  // has the rest of the checks); once the master is stopped it promotes.
  EXPECT_EQ(p.replicant.Run("promote", &out), 4) << out;
  EXPECT_NE(out.find("still up and accepts writes"), std::string::npos) << out;
  ASSERT_EQ(p.master.Stop(), 0);
  ASSERT_EQ(p.replicant.Run("promote", &out), 0) << out;
  EXPECT_NE(out.find("promoted at "), std::string::npos) << out;
  EXPECT_EQ(p.replicant.Query("INSERT INTO t VALUES (2)"), "OK");
  EXPECT_NE(ReadFile(p.replicant.pgdata() + "/pgkeeper.state").find("origin=promoted"),
            std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return p.replicant.Http("/primary") == 200; }, seconds(10)));
  EXPECT_EQ(StatusOf(p.replicant)["role"], "promoted");
  p.replicant.WaitLog("promoted while running");

  // The safety rules hold after a live promotion: with the unchanged
  // replicant settings, a restart refuses to clone over its writes.
  EXPECT_EQ(p.replicant.Stop(), 0);
  p.replicant.Start();
  EXPECT_EQ(p.replicant.Wait(seconds(30)), 4);
  EXPECT_TRUE(p.replicant.LogContains("holds a promoted replicant's data"));
}

// curl against node's API over HTTPS (-k: the node's self-signed pair);
// returns the status code (0 when nothing answered) and fills *body.
int Https(Node& node, const std::string& method, const std::string& path, const std::string& user = "",
          std::string* body = nullptr) {
  static std::atomic<int> calls{0};
  std::string out = std::string(::testing::TempDir()) + "/pgkeeper-curl-" + std::to_string(getpid()) +
                    "-" + std::to_string(calls++);
  std::string cmd = "curl -sk -m 150 -o " + out + " -w '%{http_code}' -X " + method +
                    (user.empty() ? "" : " -u '" + user + "'") + " 'https://127.0.0.1:" +
                    std::to_string(node.api_port()) + path + "'";
  std::string code;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[64];
    while (fgets(buf, sizeof(buf), f)) code += buf;
    pclose(f);
  }
  if (body) *body = ReadFile(out);
  std::remove(out.c_str());
  return std::atoi(code.c_str());
}

// The API as an operator locks it: HTTPS on the node's own certificate, role
// checks open to load balancers, and promotion served only with the
// credential (none at all on a node without one).
TEST(Api, OverHttpsStateChangingEndpointsNeedTheCredentialAndAreOffWithoutOne) {
  const std::string pass_file =
      std::string(::testing::TempDir()) + "/pgkeeper-api-pass-" + std::to_string(getpid());
  {
    std::FILE* f = std::fopen(pass_file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("correct-horse-battery\n", f);
    std::fclose(f);
  }
  // A secret only root can read, as Docker mounts one from a root-only file.
  if (geteuid() == 0) {
    ASSERT_EQ(chmod(pass_file.c_str(), 0400), 0);
  }
  Pair p(Vars{{"PGKEEPER_API_TLS", "True"}, {"PGKEEPER_API_PASSWORD_FILE", pass_file}},
         Vars{{"PGKEEPER_API_TLS", "True"}});
  p.Start();
  EXPECT_EQ(Https(p.master, "GET", "/primary"), 200);
  // Healthy comes a moment before streaming.
  EXPECT_TRUE(WaitFor([&] { return Https(p.replicant, "GET", "/replica") == 200; }, seconds(15)));
  EXPECT_EQ(p.master.Http("/primary"), 0) << "no plain HTTP on an HTTPS port";
  std::string body;
  // The master has no password: nothing that changes state is served.
  EXPECT_EQ(Https(p.master, "POST", "/promote", "pgkeeper:anything", &body), 404);
  EXPECT_NE(body.find("PGKEEPER_API_PASSWORD_FILE"), std::string::npos) << body;
  // The replicant's endpoints want the credential.
  EXPECT_EQ(Https(p.replicant, "POST", "/promote", "", &body), 401) << body;
  EXPECT_EQ(Https(p.replicant, "POST", "/promote", "pgkeeper:wrong-horse", &body), 401) << body;
  EXPECT_EQ(Https(p.replicant, "POST", "/reload", "pgkeeper:correct-horse-battery", &body), 200)
      << body;
  EXPECT_NE(body.find("self-signed"), std::string::npos) << body;
  // An action that takes seconds (following a server that accepts TCP but
  // never answers: the follow's checks wait out their connect timeouts)
  // does not hold up checks.
  int silent = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(silent, 16), 0);
  ASSERT_EQ(getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string silent_at = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto t0 = std::chrono::steady_clock::now();
  std::string follow_body;
  int follow_code = 0;
  std::atomic<bool> follow_done{false};
  std::thread follow([&] {
    follow_code = Https(p.replicant, "POST", "/follow?to=" + silent_at,
                        "pgkeeper:correct-horse-battery", &follow_body);
    follow_done = true;
  });
  int answered_during = 0;
  while (!follow_done && std::chrono::steady_clock::now() - t0 < seconds(30)) {
    auto asked = std::chrono::steady_clock::now();
    EXPECT_EQ(Https(p.replicant, "GET", "/liveness"), 200);
    EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::milliseconds(1000));
    if (!follow_done) ++answered_during;
  }
  follow.join();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, seconds(1)) << "the follow did not wait at all";
  EXPECT_GE(answered_during, 3) << "checks were not answered while the action ran";
  EXPECT_EQ(follow_code, 200) << follow_body;
  close(silent);
  EXPECT_EQ(Https(p.replicant, "POST", "/follow?to=127.0.0.1:" + std::to_string(p.master.port()),
                  "pgkeeper:correct-horse-battery", &body),
            200)
      << body;
  EXPECT_TRUE(WaitFor([&] { return Https(p.replicant, "GET", "/replica") == 200; }, seconds(30)));

  // The master is up, so the checked promotion refuses, as the command does.
  EXPECT_EQ(Https(p.replicant, "POST", "/promote", "pgkeeper:correct-horse-battery", &body), 409)
      << body;
  EXPECT_EQ(p.replicant.Query("SELECT pg_is_in_recovery()"), "t");
  ASSERT_EQ(p.master.Stop(), 0);
  EXPECT_EQ(Https(p.replicant, "POST", "/promote", "pgkeeper:correct-horse-battery", &body), 200)
      << body;
  EXPECT_NE(body.find("\"ok\":true"), std::string::npos) << body;
  EXPECT_EQ(p.replicant.Query("SELECT pg_is_in_recovery()"), "f");
  EXPECT_TRUE(WaitFor([&] { return Https(p.replicant, "GET", "/primary") == 200; }, seconds(15)));
  // The password is in no log line and in no status.
  EXPECT_EQ(p.replicant.Log().find("correct-horse"), std::string::npos);
  EXPECT_EQ(Https(p.replicant, "GET", "/status", "", &body), 200);
  EXPECT_EQ(body.find("correct-horse"), std::string::npos);
  std::remove(pass_file.c_str());
}

}  // namespace
}  // namespace pgkeeper::testing

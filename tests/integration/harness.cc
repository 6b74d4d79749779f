#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace pgkeeper::testing {

Scratch::Scratch() {
  char tmpl[] = "/tmp/pgkeeper-it-XXXXXX";
  char* dir = mkdtemp(tmpl);
  if (!dir) abort();
  path_ = dir;
  chmod(path_.c_str(), 0755);  // the postgres user must reach the data dirs
  mkdir(shared().c_str(), 0777);
  chmod(shared().c_str(), 01777);
}

Scratch::~Scratch() {
  if (getenv("PGKEEPER_KEEP_SCRATCH")) return;
  std::string cmd = "rm -rf '" + path_ + "'";
  int rc = system(cmd.c_str());
  (void)rc;
}

int FreePort() {
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    int port = ntohs(addr.sin_port);
    close(fd);
    // Stay below the kernel's ephemeral range start to avoid collisions
    // with outgoing connections; retry otherwise.
    if (port > 1024) return port;
  }
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  // After a fatal failure (a node that did not start, say) the test is lost;
  // waiting out every later deadline would only slow the run down.
  if (::testing::Test::HasFatalFailure()) return cond();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path);
  out << content;
}

EtcdServer::EtcdServer(const Scratch& scratch, const std::string& name)
    : client_port_(FreePort()), peer_port_(FreePort()) {
  const std::string dir = scratch.path() + "/" + name;
  const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args = {"etcd",
                                   "--name=" + name,
                                   "--data-dir=" + dir,
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=" + name + "=" + peer};
  const std::string log = dir + ".log";
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp("etcd", argv.data());
    fprintf(stderr, "test harness: cannot execute etcd (etcd-server): %s\n", strerror(errno));
    _exit(127);
  }
  // Ready once the gateway answers a range request.
  bool up = WaitFor(
      [&] {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited: no point waiting
          pid_ = -1;
          return true;
        }
        httplib::Client cli("127.0.0.1", client_port_);
        cli.set_connection_timeout(1);
        auto r = cli.Post("/v3/kv/range", R"({"key":"eA=="})", "application/json");
        return r && r->status == 200;
      },
      seconds(30));
  EXPECT_TRUE(up && pid_ > 0) << "etcd did not answer on " << client << " within 30 s:\n"
                              << ReadFile(log);
}

EtcdServer::~EtcdServer() { Stop(); }

void EtcdServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

Node::Node(const Scratch& scratch, const std::string& name,
           std::map<std::string, std::string> env)
    : dir_(scratch.path() + "/" + name),
      pgdata_(dir_ + "/data"),
      run_dir_(dir_ + "/run"),
      log_path_(dir_ + ".log"),
      port_(FreePort()),
      api_port_(FreePort()) {
  mkdir(dir_.c_str(), 0755);
  env_ = {{"PGDATA", pgdata_},
          {"PGKEEPER_NODE_NAME", name},
          {"PGPORT", std::to_string(port_)},
          {"PGKEEPER_API_PORT", std::to_string(api_port_)},
          {"PGKEEPER_RUN_DIR", run_dir_},
          {"PGKEEPER_LISTEN_ADDRESSES", "127.0.0.1"},
          {"PGKEEPER_INITDB_DIR", dir_ + "/initdb.d"},
          {"ALLOW_IP_RANGE", "127.0.0.1/32"},
          {"POSTGRES_USER", "docker"},
          {"POSTGRES_PASS", kPassword},
          {"POSTGRES_DBNAME", "gis"},
          {"POSTGRES_MULTIPLE_EXTENSIONS", "hstore"}};
  for (auto& [k, v] : env) env_[k] = v;
}

Node::~Node() {
  if (pid_ > 0) Stop(SIGQUIT, seconds(30));
}

std::string Node::Env(const std::string& key) const {
  auto it = env_.find(key);
  return it == env_.end() ? "" : it->second;
}

void Node::Start() {
  ASSERT_LT(pid_, 0) << "node already running";
  std::vector<std::string> envs;
  for (auto& [k, v] : env_) envs.push_back(k + "=" + v);
  envs.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(log_fd, 0);
  std::string marker = "===== pgkeeper run started by test =====\n";
  ASSERT_EQ(write(log_fd, marker.data(), marker.size()), static_cast<ssize_t>(marker.size()));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    if (!cwd_.empty() && chdir(cwd_.c_str()) != 0) {
      fprintf(stderr, "test harness: cannot enter %s: %s\n", cwd_.c_str(), strerror(errno));
      _exit(127);
    }
    char* argv[] = {const_cast<char*>(binary_.c_str()), const_cast<char*>("run"), nullptr};
    execve(binary_.c_str(), argv, envp.data());
    fprintf(stderr, "test harness: cannot execute %s: %s\n", binary_.c_str(), strerror(errno));
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  exit_code_ = -1;
  stopping_ = false;
}

void Node::Reap() {
  if (pid_ <= 0) return;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return;
  pid_ = -1;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int Node::Wait(seconds timeout) {
  if (pid_ <= 0) return exit_code_;
  bool done = WaitFor(
      [&] {
        Reap();
        return pid_ <= 0;
      },
      timeout);
  return done ? exit_code_ : -1;
}

int Node::Stop(int sig, seconds timeout) {
  stopping_ = true;
  if (pid_ <= 0) return exit_code_;
  kill(pid_, sig);
  int code = Wait(timeout);
  if (code == -1 && pid_ > 0) {
    kill(pid_, SIGKILL);
    Wait(seconds(10));
  }
  return code;
}

void Node::Kill() {
  stopping_ = true;
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  Wait(seconds(10));
}

bool Node::Running() {
  Reap();
  return pid_ > 0;
}

bool Node::Died() { return !stopping_ && exit_code_ != -1 && !Running(); }

bool Node::Healthy() {
  std::string cmd = "PGKEEPER_RUN_DIR='" + run_dir_ + "' PGPORT=" + std::to_string(port_) +
                    " POSTGRES_USER=" + Env("POSTGRES_USER") + " " + PGKEEPER_BIN +
                    " health --ready >/dev/null 2>&1";
  return system(cmd.c_str()) == 0;
}

void Node::WaitHealthy(seconds timeout) {
  bool exited = false;
  ASSERT_TRUE(WaitFor(
      [&] {
        exited = !Running();
        return exited || Healthy();
      },
      timeout) && !exited)
      << (exited ? "pgkeeper exited (code " + std::to_string(exit_code_) + ")"
                 : std::string("node did not become healthy"))
      << "; log:\n" << Log();
}

void Node::AddInitScript(const std::string& name, const std::string& content) {
  mkdir(Env("PGKEEPER_INITDB_DIR").c_str(), 0755);
  WriteFile(Env("PGKEEPER_INITDB_DIR") + "/" + name, content);
}

void Node::RemoveInitScript(const std::string& name) {
  unlink((Env("PGKEEPER_INITDB_DIR") + "/" + name).c_str());
}

int Node::Run(const std::string& args, std::string* output) {
  std::string cmd = "env -i PATH=/usr/bin:/bin";
  // As `docker exec` would have them: the node's locating variables, and the
  // cluster's (for `pgkeeper switchover`).
  for (const char* key : {"PGKEEPER_RUN_DIR", "PGPORT", "POSTGRES_USER", "PGDATA", "ETCD_ENDPOINTS",
                          "PGKEEPER_CLUSTER"}) {
    cmd += std::string(" ") + key + "='" + Env(key) + "'";
  }
  cmd += std::string(" ") + PGKEEPER_BIN + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return -1;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  int status = pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool Node::LogContains(const std::string& text) { return Log().find(text) != std::string::npos; }

void Node::WaitLog(const std::string& text, seconds timeout) {
  // Once pgkeeper has exited its log is final: look once more, then stop.
  bool died = false;
  bool found = WaitFor(
      [&] {
        died = Died();
        return LogContains(text) || died;
      },
      timeout) && LogContains(text);
  ASSERT_TRUE(found) << "log never said '" << text << "'"
                     << (died ? " and pgkeeper exited (code " + std::to_string(exit_code_) + ")" : "")
                     << "; log:\n" << Log();
}

std::string Node::Query(const std::string& sql, const std::string& db) {
  const char* keys[] = {"host", "port", "user", "password", "dbname", "connect_timeout", nullptr};
  std::string port = std::to_string(port_);
  std::string user = Env("POSTGRES_USER");
  std::string password = Env("POSTGRES_PASS");
  const char* values[] = {"127.0.0.1", port.c_str(), user.c_str(), password.c_str(),
                          db.c_str(), "5", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 0);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = std::string("ERROR: connect ") + PQerrorMessage(conn);
    PQfinish(conn);
    return err;
  }
  PGresult* res = PQexec(conn, sql.c_str());
  std::string out;
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_TUPLES_OK) {
    out = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "";
  } else if (st == PGRES_COMMAND_OK) {
    out = "OK";
  } else {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    out = std::string("ERROR: ") + (state ? state : "?") + " " + PQresultErrorMessage(res);
  }
  PQclear(res);
  PQfinish(conn);
  return out;
}

void Node::WaitQuery(const std::string& sql, const std::string& expected, seconds timeout,
                     const std::string& db) {
  std::string last;
  bool died = false;
  bool ok = WaitFor(
      [&] {
        died = Died();
        last = Query(sql, db);
        return last == expected || died;
      },
      timeout) && last == expected;
  ASSERT_TRUE(ok) << "query '" << sql << "' gave '" << last << "', expected '" << expected << "'"
                  << (died ? " and pgkeeper exited (code " + std::to_string(exit_code_) + ")" : "")
                  << "; log:\n" << Log();
}

int Node::Http(const std::string& path, std::string* body, const std::string& method) {
  httplib::Client client("127.0.0.1", api_port_);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  httplib::Result res = method == "HEAD"      ? client.Head(path.c_str())
                        : method == "OPTIONS" ? client.Options(path.c_str())
                        : method == "POST"    ? client.Post(path.c_str())
                                              : client.Get(path.c_str());
  if (!res) return 0;
  if (body) *body = res->body;
  return res->status;
}

std::map<std::string, std::string> ReplicantOf(const Node& master,
                                               std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> env = {{"REPLICATE_FROM", "127.0.0.1"},
                                            {"REPLICATE_PORT", std::to_string(master.port())},
                                            {"POSTGRES_USER", master.Env("POSTGRES_USER")},
                                            {"POSTGRES_PASS", master.Env("POSTGRES_PASS")}};
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

void StartInOrder(Node& first, const std::vector<Node*>& then) {
  first.Start();
  first.WaitHealthy();
  for (Node* n : then) n->Start();
  for (Node* n : then) n->WaitHealthy();
}

void Pair::Start() {
  master.Start();
  master.WaitHealthy();
  replicant.Start();
  replicant.WaitHealthy();
}

}  // namespace pgkeeper::testing

// Test harness: runs `pgkeeper run` as a real process with a chosen
// environment, on loopback, and waits for conditions with deadlines.
#ifndef PGKEEPER_TESTS_HARNESS_H_
#define PGKEEPER_TESTS_HARNESS_H_

#include <sys/types.h>

#include <csignal>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pgkeeper::testing {

using std::chrono::seconds;
inline constexpr const char kPassword[] = "s3cret-Pa55word-xyzzy";
// Environment variables for a node.
using Vars = std::map<std::string, std::string>;

// A scratch directory tree for one test, readable by the postgres user.
class Scratch {
 public:
  Scratch();
  ~Scratch();
  const std::string& path() const { return path_; }
  // A directory every user may write to (init scripts run as postgres).
  std::string shared() const { return path_ + "/shared"; }

 private:
  std::string path_;
};

// Returns a TCP port on 127.0.0.1 that nothing listens on.
int FreePort();

// Polls cond every 50 ms until it holds or timeout passes. Once the test has
// a fatal failure it only checks cond once.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

std::string ReadFile(const std::string& path);
bool FileExists(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

// A one-member etcd (Debian's etcd-server) on loopback, with its data under
// scratch; started by the constructor, waited for, stopped by Stop or the
// destructor.
class EtcdServer {
 public:
  explicit EtcdServer(const Scratch& scratch, const std::string& name = "etcd");
  ~EtcdServer();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  void Stop();

 private:
  int client_port_, peer_port_;
  pid_t pid_ = -1;
};

class Node {
 public:
  // name becomes the directory under scratch; env adds to/overrides defaults.
  Node(const Scratch& scratch, const std::string& name,
       std::map<std::string, std::string> env = {});
  ~Node();

  void Start();                       // spawn `pgkeeper run`
  int Stop(int sig = SIGTERM, seconds timeout = seconds(60));  // signal, wait, exit code
  void Kill();                        // SIGKILL pgkeeper only, reap
  // Waits for exit and returns the exit code (128 + n for signal n); -1 on
  // timeout or when the node was never started.
  int Wait(seconds timeout);
  bool Running();
  // True when pgkeeper was started and has exited without the test stopping
  // it: waiting for it to become healthy, log or answer is then pointless.
  bool Died();

  // Runs `pgkeeper run` from another binary and working directory (empty:
  // the build's binary, the test's directory).
  void SetBinary(const std::string& path) { binary_ = path; }
  void SetWorkingDir(const std::string& dir) { cwd_ = dir; }

  // Puts a first-start script into the node's PGKEEPER_INITDB_DIR.
  void AddInitScript(const std::string& name, const std::string& content);
  void RemoveInitScript(const std::string& name);

  void SetEnv(const std::string& key, const std::string& value) { env_[key] = value; }
  void UnsetEnv(const std::string& key) { env_.erase(key); }

  // True once `pgkeeper health` exits 0.
  bool Healthy();
  void WaitHealthy(seconds timeout = seconds(120));
  bool LogContains(const std::string& text);
  void WaitLog(const std::string& text, seconds timeout = seconds(60));
  std::string Log() { return ReadFile(log_path_); }

  // SQL over TCP on 127.0.0.1 as POSTGRES_USER with the password.
  // Returns the first value, or "ERROR: <sqlstate> <message>".
  std::string Query(const std::string& sql, const std::string& db = "gis");
  // Waits until Query(sql) returns expected.
  void WaitQuery(const std::string& sql, const std::string& expected,
                 seconds timeout = seconds(60), const std::string& db = "gis");

  // Runs `pgkeeper <args>` next to the node, as `docker exec` would, with
  // the variables that locate it (no secrets). Returns the exit code;
  // *output gets stdout and stderr.
  int Run(const std::string& args, std::string* output = nullptr);

  int port() const { return port_; }
  int api_port() const { return api_port_; }
  // GET (or another method) on the node's HTTP API; returns the status code
  // (0 when nothing answers) and fills *body.
  int Http(const std::string& path, std::string* body = nullptr, const std::string& method = "GET");
  pid_t pid() const { return pid_; }
  const std::string& pgdata() const { return pgdata_; }
  const std::string& run_dir() const { return run_dir_; }
  std::string Env(const std::string& key) const;

 private:
  std::string dir_, pgdata_, run_dir_, log_path_;
  int port_;
  int api_port_;
  void Reap();  // if pgkeeper has exited: pid_ = -1, exit_code_ = its code

  pid_t pid_ = -1;
  int exit_code_ = -1;
  bool stopping_ = false;  // Stop or Kill was called since Start
  std::string binary_ = PGKEEPER_BIN;
  std::string cwd_;
  std::map<std::string, std::string> env_;
};

// Environment that makes a node follow master.
std::map<std::string, std::string> ReplicantOf(const Node& master,
                                               std::map<std::string, std::string> extra = {});

// Starts first and waits until it is healthy, then starts the others
// together and waits until each is healthy (a master, then its replicants).
void StartInOrder(Node& first, const std::vector<Node*>& then);

// A master and a replicant that follows it, in one scratch tree.
struct Pair {
  explicit Pair(Vars replicant_env = {}, Vars master_env = {})
      : master(scratch, "master", std::move(master_env)),
        replicant(scratch, "replicant", ReplicantOf(master, std::move(replicant_env))) {}
  // Starts the master, waits until it is healthy, then the same for the replicant.
  void Start();

  Scratch scratch;
  Node master;
  Node replicant;
};

}  // namespace pgkeeper::testing

#endif  // PGKEEPER_TESTS_HARNESS_H_

#include "postgresql/postmaster.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>

#include "config/config.h"
#include "base/log.h"
#include "postgresql/pg.h"
#include "base/process.h"

namespace pgkeeper {

std::string PidFileStatus(const std::string& content, pid_t pid) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    lines.push_back(content.substr(start, end - start));
    start = end + 1;
  }
  if (lines.size() < 8 || lines[0] != std::to_string(pid)) return "";
  std::string status = lines[7];
  while (!status.empty() && status.back() == ' ') status.pop_back();
  return status;
}

bool CannotResume(const std::string& line) {
  return line.find("has already been removed") != std::string::npos ||
         line.find("forked off current database system timeline") != std::string::npos;
}

Postmaster::~Postmaster() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGQUIT);
  }
  if (reader_.joinable()) reader_.detach();
}

bool PidFileIsStale(pid_t pid, const std::string& comm, bool own_thread) {
  if (pid <= 0 || own_thread || pid == ::getpid()) return true;
  return comm != "postgres";
}

Status ClearStalePidFile(const std::string& datadir) {
  const std::string pidfile = datadir + "/postmaster.pid";
  std::string content;
  if (!ReadWholeFile(pidfile, &content).ok()) return Status::Ok();  // none: nothing to clear
  pid_t pid = static_cast<pid_t>(std::atol(content.c_str()));
  if (pid < 0) pid = -pid;  // a single-user postgres writes its PID negated
  std::string comm;
  if (pid > 0 && ReadWholeFile("/proc/" + std::to_string(pid) + "/comm", &comm).ok()) {
    while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\r')) comm.pop_back();
  }
  const bool own_thread =
      pid > 0 && ::access(("/proc/self/task/" + std::to_string(pid)).c_str(), F_OK) == 0;
  if (!PidFileIsStale(pid, comm, own_thread)) return Status::Ok();  // postgres says the rest
  if (::unlink(pidfile.c_str()) != 0 && errno != ENOENT) return Status::FromErrno(pidfile, errno);
  LogInfo("removed a stale " + pidfile + ": its postgres (PID " + std::to_string(pid) +
          ") is gone, e.g. killed with its container" +
          (comm.empty() ? "" : "; PID " + std::to_string(pid) + " is now " +
                                   (own_thread ? "a thread of pgkeeper" : "'" + comm + "'")));
  return Status::Ok();
}

Status Postmaster::Start(const Config& c, const std::string& datadir,
                         const std::vector<std::string>& extra_args,
                         const std::vector<std::string>& env) {
  PGK_RETURN_IF_ERROR(ClearStalePidFile(datadir));
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  SpawnSpec spec;
  spec.argv = {c.pg_bin + "/postgres", "-D", datadir};
  spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
  spec.env = env;
  spec.stderr_fd = pipefd[1];
  spec.stdout_fd = pipefd[1];
  // If pgkeeper dies, an immediate shutdown is safe: crash recovery follows.
  spec.pdeathsig = SIGQUIT;
  Status st = Spawn(spec, &pid_);
  ::close(pipefd[1]);
  if (!st.ok()) {
    ::close(pipefd[0]);
    return st;
  }
  exited_ = false;
  said_disk_full_ = false;
  datadir_ = datadir;
  int fd = pipefd[0];
  reader_ = std::thread([this, fd] { ForwardStderr(fd); });
  LogInfo("started postgres (pid " + std::to_string(pid_) + ") on " + datadir);
  return Status::Ok();
}

void Postmaster::ForwardStderr(int fd) {
  LineSplitter splitter;
  auto on_line = [this](const std::string& line) {
    LogRaw(line);
    if (line.find("No space left on device") != std::string::npos) said_disk_full_ = true;
    if (on_hba_refusal_ && line.find("pg_hba.conf") != std::string::npos) on_hba_refusal_(line);
    if (on_wal_missing_ && CannotResume(line)) {
      on_wal_missing_(line);
    }
  };
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    // postgres ends lines with \n only; \r inside a message is not expected.
    splitter.Feed(buf, static_cast<size_t>(n), on_line);
  }
  splitter.Flush(on_line);
  ::close(fd);
}

bool Postmaster::Exited(int* wait_status) {
  if (!exited_ && pid_ > 0 && TakeExit(pid_, &wait_status_)) {
    exited_ = true;
    if (reader_.joinable()) reader_.join();
  }
  if (exited_ && wait_status) *wait_status = wait_status_;
  return exited_;
}

Status Postmaster::WaitReady(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string pidfile = datadir_ + "/postmaster.pid";
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    int ws = 0;
    if (Exited(&ws)) {
      return Status::Tool("postgres exited while starting (" + DescribeWaitStatus(ws) +
                          "); its log lines above say why");
    }
    if (StopSignal()) return Status::Interrupted("stop requested while postgres was starting");
    std::string content;
    if (ReadWholeFile(pidfile, &content).ok()) {
      std::string status = PidFileStatus(content, pid_);
      if (status == "ready" || status == "standby") return Status::Ok();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Tool("postgres did not accept connections within " +
                          std::to_string(timeout_ms / 1000) + " s");
    }
    // A start takes 0.1 to 0.2 s on a small machine; looking every 10 ms
    // for the first 2 s (a short read of a small file) catches it within
    // 10 ms, where a doubling wait lost up to 0.1 s per start. A long
    // recovery is looked at every 100 ms.
    WaitEvents(std::chrono::steady_clock::now() - start < std::chrono::seconds(2) ? 10 : 100, {});
  }
}

Status Postmaster::Stop(int sig) {
  int ws = 0;
  if (Exited(&ws)) return Status::Ok();
  ::kill(pid_, sig);
  while (!Exited(&ws)) WaitEvents(100, {});
  if (!(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) {
    return Status::Tool("postgres stopped with " + DescribeWaitStatus(ws));
  }
  return Status::Ok();
}

}  // namespace pgkeeper

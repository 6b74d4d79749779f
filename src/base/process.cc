#include "base/process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace pgkeeper {
namespace {

int g_signal_fd = -1;
// Written by the waiting thread only; read by StopRequested on any other.
std::atomic<int> g_stop_signal{0};
int g_reloads = 0;
int g_follows = 0;
std::map<pid_t, int> g_exited;

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGPIPE}) {
    sigaddset(&set, sig);
  }
  return set;
}

void ReapAll() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    g_exited[pid] = status;
  }
}

void DrainSignals() {
  struct signalfd_siginfo info;
  while (::read(g_signal_fd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    int sig = static_cast<int>(info.ssi_signo);
    if ((sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) &&
        (g_stop_signal == 0 || sig == SIGQUIT)) {
      g_stop_signal = sig;
    } else if (sig == SIGHUP) {
      ++g_reloads;
    } else if (sig == SIGUSR1) {
      ++g_follows;
    }
  }
  ReapAll();
}

// What a child that failed before exec reports to Spawn through its pipe.
struct SpawnFailure {
  int stage;  // kStageCwd or kStageExec
  int err;    // errno
};
constexpr int kStageCwd = 1;
constexpr int kStageExec = 2;

// Child side, async-signal-safe: report and exit with 127 like a shell.
[[noreturn]] void ReportSpawnFailure(int fd, int stage, int err) {
  SpawnFailure f{stage, err};
  ssize_t ignored = ::write(fd, &f, sizeof(f));
  (void)ignored;
  _exit(127);
}

}  // namespace

Status InitSignals() {
  sigset_t set = HandledSignals();
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return Status::FromErrno("sigprocmask", errno);
  g_signal_fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (g_signal_fd < 0) return Status::FromErrno("signalfd", errno);
  return Status::Ok();
}

Status Spawn(const SpawnSpec& spec, pid_t* out_pid) {
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // Closed by a successful exec; a failing child writes a SpawnFailure first.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  pid_t parent = getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return Status::FromErrno("fork", err);
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    sigset_t empty;
    sigemptyset(&empty);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    ::setpgid(0, 0);
    if (spec.pdeathsig) ::prctl(PR_SET_PDEATHSIG, spec.pdeathsig);
    if (getppid() != parent) _exit(127);
    int in = spec.stdin_fd >= 0 ? spec.stdin_fd : ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, STDIN_FILENO);
    if (spec.stdout_fd >= 0) ::dup2(spec.stdout_fd, STDOUT_FILENO);
    if (spec.stderr_fd >= 0) ::dup2(spec.stderr_fd, STDERR_FILENO);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
      ReportSpawnFailure(report[1], kStageCwd, errno);
    }
    if (spec.exec_fd >= 0) {
      ::fexecve(spec.exec_fd, argv.data(), envp.data());
    } else {
      ::execve(argv[0], argv.data(), envp.data());
    }
    ReportSpawnFailure(report[1], kStageExec, errno);
  }
  ::close(report[1]);
  ::setpgid(pid, pid);
  SpawnFailure failure{};
  ssize_t n;
  do {
    n = ::read(report[0], &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n != static_cast<ssize_t>(sizeof(failure))) {
    *out_pid = pid;
    return Status::Ok();
  }
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  if (failure.stage == kStageCwd) {
    return Status::FromErrno("cannot start " + spec.argv[0] + ": cannot enter its working directory " + spec.cwd,
                             failure.err);
  }
  return Status::FromErrno("cannot execute " + spec.argv[0], failure.err);
}

Status OpenSelfExecutable(SelfBinary* self) {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return Status::FromErrno("readlink /proc/self/exe", errno);
  self->path.assign(buf, static_cast<size_t>(n));
  self->fd = ::open("/proc/self/exe", O_PATH | O_CLOEXEC);
  if (self->fd < 0) return Status::FromErrno("open /proc/self/exe", errno);
  return Status::Ok();
}

Status BecomeUser(const std::string& name, uid_t uid, gid_t gid) {
  if (::initgroups(name.c_str(), gid) != 0) return Status::FromErrno("initgroups", errno);
  if (::setgid(gid) != 0) return Status::FromErrno("setgid", errno);
  if (::setuid(uid) != 0) return Status::FromErrno("setuid", errno);
  return Status::Ok();
}

Status BecomePostgresIfRoot() {
  if (geteuid() != 0) return Status::Ok();
  struct passwd* pw = getpwnam("postgres");
  if (!pw) return Status::System("running as root but there is no 'postgres' OS user to run as");
  return BecomeUser("postgres", pw->pw_uid, pw->pw_gid);
}

int StopSignal() {
  DrainSignals();
  return g_stop_signal;
}

int StopRequested() { return g_stop_signal; }

void WakeWaiter() { ::kill(::getpid(), SIGUSR2); }

int TakeReloadRequests() {
  DrainSignals();
  int n = g_reloads;
  g_reloads = 0;
  return n;
}

int TakeFollowRequests() {
  DrainSignals();
  int n = g_follows;
  g_follows = 0;
  return n;
}

std::vector<int> WaitEvents(int timeout_ms, const std::vector<int>& fds) {
  std::vector<struct pollfd> pfds;
  pfds.push_back({g_signal_fd, POLLIN, 0});
  for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
  std::vector<int> readable;
  int n = ::poll(pfds.data(), pfds.size(), timeout_ms);
  DrainSignals();
  if (n <= 0) return readable;
  for (size_t i = 1; i < pfds.size(); ++i) {
    if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) readable.push_back(pfds[i].fd);
  }
  return readable;
}

bool TakeExit(pid_t pid, int* wait_status) {
  ReapAll();
  auto it = g_exited.find(pid);
  if (it == g_exited.end()) return false;
  *wait_status = it->second;
  g_exited.erase(it);
  return true;
}

Status SleepUnlessStopped(int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    if (int sig = StopSignal()) {
      return Status::Interrupted(std::string("stopped by ") + strsignal(sig));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return Status::Ok();
    WaitEvents(static_cast<int>(left), {});
  }
}

std::string DescribeWaitStatus(int ws) {
  if (WIFEXITED(ws)) return "exit code " + std::to_string(WEXITSTATUS(ws));
  if (WIFSIGNALED(ws)) return std::string("signal ") + strsignal(WTERMSIG(ws));
  return "unknown status";
}

int ExitCodeOf(int ws) {
  if (WIFEXITED(ws)) return WEXITSTATUS(ws);
  if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
  return 1;
}

Status StartTool(const SpawnSpec& spec, bool with_stdin, StartedTool* started) {
  *started = StartedTool();
  started->tool = spec.argv[0].substr(spec.argv[0].find_last_of('/') + 1);
  int out[2], in[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  if (with_stdin && ::pipe2(in, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(out[0]);
    ::close(out[1]);
    return Status::FromErrno("pipe", err);
  }
  SpawnSpec s = spec;
  s.stdout_fd = out[1];
  s.stderr_fd = out[1];
  s.stdin_fd = in[0];
  Status st = Spawn(s, &started->pid);
  ::close(out[1]);
  if (in[0] >= 0) ::close(in[0]);
  if (!st.ok()) {
    ::close(out[0]);
    if (in[1] >= 0) ::close(in[1]);
    started->pid = 0;
    return st;
  }
  started->out = out[0];
  started->in = in[1];
  return Status::Ok();
}

std::vector<Status> FinishTools(std::vector<StartedTool> tools, const std::vector<LineFn>& on_line) {
  struct Child {
    StartedTool t;
    bool exited = false;
    int ws = 0;
    LineSplitter splitter;
  };
  std::vector<Status> result(tools.size(), Status::Ok());
  std::vector<Child> kids(tools.size());
  for (size_t i = 0; i < tools.size(); ++i) {
    kids[i].t = tools[i];
    kids[i].exited = tools[i].pid <= 0;
  }
  bool signalled = false;
  for (;;) {
    if (!signalled && StopSignal()) {
      for (const auto& k : kids) {
        if (!k.exited) ::kill(-k.t.pid, SIGTERM);
      }
      signalled = true;
    }
    bool all_exited = true, any_open = false;
    std::vector<int> fds;
    for (auto& k : kids) {
      if (!k.exited) k.exited = TakeExit(k.t.pid, &k.ws);
      all_exited = all_exited && k.exited;
      if (k.t.out >= 0) {
        fds.push_back(k.t.out);
        any_open = true;
      }
    }
    if (all_exited && !any_open) break;
    std::vector<int> ready = WaitEvents(all_exited ? 0 : 1000, fds);
    // All exited and nothing to read: a grandchild keeps a pipe open.
    if (ready.empty() && all_exited) break;
    for (size_t i = 0; i < kids.size(); ++i) {
      Child& k = kids[i];
      if (k.t.out < 0 || std::find(ready.begin(), ready.end(), k.t.out) == ready.end()) continue;
      char buf[4096];
      ssize_t n = ::read(k.t.out, buf, sizeof(buf));
      if (n > 0) {
        k.splitter.Feed(buf, static_cast<size_t>(n), on_line[i]);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(k.t.out);
        k.t.out = -1;
      }
    }
  }
  for (size_t i = 0; i < kids.size(); ++i) {
    Child& k = kids[i];
    if (k.t.out >= 0) ::close(k.t.out);
    if (k.t.in >= 0) ::close(k.t.in);
    if (k.t.pid <= 0) continue;
    k.splitter.Flush(on_line[i]);
    if (signalled) {
      result[i] = Status::Interrupted(k.t.tool + " was stopped because pgkeeper received " +
                                      strsignal(StopSignal()));
    } else if (!(WIFEXITED(k.ws) && WEXITSTATUS(k.ws) == 0)) {
      result[i] = Status::Tool(k.t.tool + " failed (" + DescribeWaitStatus(k.ws) + ")");
    }
  }
  return result;
}

std::vector<Status> RunTools(const std::vector<ToolRun>& runs) {
  std::vector<Status> result(runs.size(), Status::Ok());
  std::vector<StartedTool> tools(runs.size());
  std::vector<LineFn> on_line;
  for (size_t i = 0; i < runs.size(); ++i) {
    result[i] = StartTool(runs[i].spec, false, &tools[i]);
    on_line.push_back(runs[i].on_line);
  }
  std::vector<Status> finished = FinishTools(std::move(tools), on_line);
  for (size_t i = 0; i < runs.size(); ++i) {
    if (result[i].ok()) result[i] = finished[i];
  }
  return result;
}

Status RunTool(const SpawnSpec& spec, const LineFn& on_line) {
  return RunTools({ToolRun{spec, on_line}})[0];
}

}  // namespace pgkeeper

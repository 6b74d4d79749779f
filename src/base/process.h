// Child processes and signals.
//
// Signals are blocked in every thread from the start and read synchronously
// from a signalfd at the few places pgkeeper waits, so there are no
// asynchronous handlers. Children get the signal mask restored, their own
// process group, and a parent-death signal so they never outlive pgkeeper.
#ifndef PGKEEPER_PROCESS_H_
#define PGKEEPER_PROCESS_H_

#include <sys/types.h>

#include <csignal>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace pgkeeper {

// REQUIRES: called once, first thing in main, before any thread exists.
Status InitSignals();

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is an absolute path
  int exec_fd = -1;               // >= 0: execute this open file instead of argv[0]
  std::vector<std::string> env;   // "NAME=value"; the child gets only these
  std::string cwd;                // empty: inherit
  int stdin_fd = -1;              // -1: /dev/null
  int stdout_fd = -1;             // -1: inherit
  int stderr_fd = -1;             // -1: inherit
  int pdeathsig = SIGKILL;        // sent to the child if pgkeeper dies
};

// Starts the child and returns once it has exec'd. A child that cannot enter
// spec.cwd or cannot be executed is reported here, with the path and errno
// (and reaped), instead of as an anonymous exit code 127 later.
Status Spawn(const SpawnSpec& spec, pid_t* pid);

// This binary, opened (O_PATH) so that it can still be executed after
// privileges are dropped, even when it lies under a directory the new user
// may not enter (a build tree in root's home). fd is close-on-exec.
struct SelfBinary {
  std::string path;  // for messages and the child's argv[0]
  int fd = -1;
};
Status OpenSelfExecutable(SelfBinary* self);

// Drops root privileges for good: supplementary groups, gid, then uid.
Status BecomeUser(const std::string& name, uid_t uid, gid_t gid);
// If running as root, becomes the postgres user; otherwise does nothing.
Status BecomePostgresIfRoot();

// StopSignal, TakeReloadRequests, TakeFollowRequests, WaitEvents, TakeExit
// and what is built on them read the signals and reap children: REQUIRES
// the thread that waits (the one that called InitSignals). A signal read on
// another thread would be lost to the waiting one, which then sleeps on.

// The stop signal received so far (SIGTERM, SIGINT or SIGQUIT), or 0.
int StopSignal();
// From any thread: the stop signal the waiting thread has read so far, or 0.
int StopRequested();
// From any thread: wakes the waiting thread's WaitEvents at once (SIGUSR2,
// which asks for nothing else).
void WakeWaiter();
// SIGHUPs received since the last call.
int TakeReloadRequests();
// SIGUSR1s received since the last call: `pgkeeper follow` left a request.
int TakeFollowRequests();

// Waits up to timeout_ms for a signal or for one of fds to be readable.
// Reaps exited children into the table read by TakeExit. Returns the fds
// that are readable.
std::vector<int> WaitEvents(int timeout_ms, const std::vector<int>& fds);
// If pid has exited, stores its wait status and returns true.
bool TakeExit(pid_t pid, int* wait_status);

// Sleeps up to ms; returns Interrupted if a stop signal arrives.
Status SleepUnlessStopped(int ms);

// Where a tool's output lines go, one call per line.
using LineFn = std::function<void(const std::string&)>;

// Runs a tool to completion. Its stdout and stderr lines (split on \n and \r)
// go to on_line. On a stop signal the tool's process group gets SIGTERM and
// the result is Status::Interrupted. A non-zero exit is Status::Tool naming
// the tool.
Status RunTool(const SpawnSpec& spec, const LineFn& on_line);

// A tool started and not yet waited for (StartTool, FinishTools).
struct StartedTool {
  pid_t pid = 0;
  int out = -1;      // read end of its stdout and stderr
  int in = -1;       // write end of its stdin, when StartTool was asked for one
  std::string tool;  // its file name, for messages
};
// Starts a tool as RunTool does, its stdout and stderr on a pipe. with_stdin:
// its stdin is a pipe too, for the caller to write to (started->in).
Status StartTool(const SpawnSpec& spec, bool with_stdin, StartedTool* started);
// Waits for started tools as RunTools does (their lines to on_line[i]) and
// closes what is left of their pipes.
std::vector<Status> FinishTools(std::vector<StartedTool> tools, const std::vector<LineFn>& on_line);

// One tool of RunTools and where its output lines go.
struct ToolRun {
  SpawnSpec spec;
  LineFn on_line;
};
// Runs the tools side by side, each as RunTool would, and returns once all
// have exited: their results, in order. A stop signal stops them all.
std::vector<Status> RunTools(const std::vector<ToolRun>& runs);

// "exit code 3", "signal 9".
std::string DescribeWaitStatus(int wait_status);
// Exit code pgkeeper should use for a child's wait status (128+n for signals).
int ExitCodeOf(int wait_status);

// Splits a byte stream into lines at \n or \r; keeps the unfinished tail.
class LineSplitter {
 public:
  template <typename F>
  void Feed(const char* data, size_t n, F&& on_line) {
    for (size_t i = 0; i < n; ++i) {
      char ch = data[i];
      if (ch == '\n' || ch == '\r') {
        if (!buf_.empty()) on_line(buf_);
        buf_.clear();
      } else {
        buf_.push_back(ch);
      }
    }
  }
  template <typename F>
  void Flush(F&& on_line) {
    if (!buf_.empty()) on_line(buf_);
    buf_.clear();
  }

 private:
  std::string buf_;
};

}  // namespace pgkeeper

#endif  // PGKEEPER_PROCESS_H_

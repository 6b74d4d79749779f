// The postgres server as pgkeeper's direct child.
#ifndef PGKEEPER_POSTMASTER_H_
#define PGKEEPER_POSTMASTER_H_

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "base/status.h"

namespace pgkeeper {

// The server status postgres keeps in line 8 of postmaster.pid ("starting",
// "ready", "standby", "stopping"), or "" when the file is not (yet) from the
// process pid. pg_ctl reads the same line to know a server is up.
std::string PidFileStatus(const std::string& content, pid_t pid);

// True for a postgres log line that says a standby cannot go on from where
// it is: the upstream removed WAL it needs, or the upstream's new timeline
// forked off before the position the standby has replayed.
bool CannotResume(const std::string& line);

// Whether a postmaster.pid naming pid was left by a postgres that is gone:
// a container that was killed leaves the file behind, and in the next
// container the same PID often belongs to another process (one of
// pgkeeper's own threads, say), which postgres takes for a live postmaster
// and refuses to start. comm: /proc/<pid>/comm of that process without its
// newline ("" when there is none); own_thread: pid is a thread of pgkeeper.
// Only a live process named postgres that is not ours keeps the file.
bool PidFileIsStale(pid_t pid, const std::string& comm, bool own_thread);

// Removes datadir/postmaster.pid when PidFileIsStale says so, and says why;
// REQUIRES: no postgres of pgkeeper's runs on datadir.
Status ClearStalePidFile(const std::string& datadir);

class Postmaster {
 public:
  Postmaster() = default;
  ~Postmaster();
  Postmaster(const Postmaster&) = delete;
  Postmaster& operator=(const Postmaster&) = delete;

  // Starts `postgres -D datadir extra_args...`; its stderr is forwarded to
  // pgkeeper's log line by line (and watched for known trouble).
  Status Start(const Config& config, const std::string& datadir,
               const std::vector<std::string>& extra_args, const std::vector<std::string>& env);
  // Waits until postmaster.pid says it accepts connections (reads and writes,
  // or read-only on a standby), it exits, a stop signal arrives or
  // timeout_ms passes. Unlike a connection attempt, this logs nothing.
  Status WaitReady(int timeout_ms);
  // Sends sig (SIGINT: fast shutdown) and waits for the exit.
  Status Stop(int sig);
  // Non-blocking: true once postgres has exited; *wait_status is set.
  bool Exited(int* wait_status);

  pid_t pid() const { return pid_; }
  // True when postgres has said "No space left on device" since Start.
  bool said_disk_full() const { return said_disk_full_; }
  // Called (on the log thread) with postgres' line when CannotResume(line).
  // REQUIRES: set before Start.
  void set_on_wal_missing(std::function<void(const std::string&)> fn) {
    on_wal_missing_ = std::move(fn);
  }
  // Called on the reader thread with each line where pg_hba.conf turned a
  // connection away.
  void set_on_hba_refusal(std::function<void(const std::string&)> fn) {
    on_hba_refusal_ = std::move(fn);
  }

 private:
  void ForwardStderr(int fd);

  std::string datadir_;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::atomic<bool> said_disk_full_{false};
  int wait_status_ = 0;
  std::thread reader_;
  std::function<void(const std::string&)> on_wal_missing_;
  std::function<void(const std::string&)> on_hba_refusal_;
};

}  // namespace pgkeeper

#endif  // PGKEEPER_POSTMASTER_H_

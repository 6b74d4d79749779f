// Status: the outcome of an operation that can fail in an expected way.
#ifndef PGKEEPER_STATUS_H_
#define PGKEEPER_STATUS_H_

#include <string>

namespace pgkeeper {

// Named exit codes, documented in docs/design.md and the README.
enum class ExitCode : int {
  kOk = 0,
  kUsage = 2,      // unknown subcommand or flag
  kConfig = 3,     // an environment variable is invalid
  kState = 4,      // the data directory's state forbids the action
  kTool = 5,       // initdb, pg_basebackup, psql or postgres failed
  kSystem = 6,     // an operating-system call failed
  kInterrupted = 7 // stopped by a signal; the process exits with 128 + signal
};

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Usage(std::string msg) { return Status(ExitCode::kUsage, std::move(msg)); }
  static Status Config(std::string msg) { return Status(ExitCode::kConfig, std::move(msg)); }
  static Status State(std::string msg) { return Status(ExitCode::kState, std::move(msg)); }
  static Status Tool(std::string msg) { return Status(ExitCode::kTool, std::move(msg)); }
  static Status System(std::string msg) { return Status(ExitCode::kSystem, std::move(msg)); }
  static Status Interrupted(std::string msg) {
    return Status(ExitCode::kInterrupted, std::move(msg));
  }
  // The one place errno becomes a Status: "<what>: <strerror(err)>".
  static Status FromErrno(const std::string& what, int err);

  bool ok() const { return code_ == ExitCode::kOk; }
  ExitCode code() const { return code_; }
  int exit_code() const { return static_cast<int>(code_); }
  const std::string& message() const { return message_; }

 private:
  Status(ExitCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  ExitCode code_ = ExitCode::kOk;
  std::string message_;
};

#define PGK_RETURN_IF_ERROR(expr)          \
  do {                                     \
    ::pgkeeper::Status _st = (expr);       \
    if (!_st.ok()) return _st;             \
  } while (0)

}  // namespace pgkeeper

#endif  // PGKEEPER_STATUS_H_

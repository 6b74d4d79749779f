// Rotating the user's certificate without a restart: while postgres runs,
// pgkeeper looks at SSL_CERT_FILE, SSL_KEY_FILE and SSL_CA_FILE now and
// then; when they hold something else than the copies PostgreSQL serves, it
// checks them as at start (CheckTlsFiles), copies them into place and has
// postgres reload its configuration (SIGHUP), which loads the new pair for
// new connections while open ones go on. A pair that fails the check is
// refused with a line naming the variable, and the old one stays served.
// `pgkeeper reload` (or SIGHUP to pgkeeper) does the same at once.
//
// DecideRotation is the pure part; TlsWatch reads the files and acts.
#ifndef PGKEEPER_TLS_ROTATE_H_
#define PGKEEPER_TLS_ROTATE_H_

#include <string>

#include "node.h"

namespace pgkeeper {

// In PGKEEPER_RUN_DIR: a `pgkeeper reload` request and its one-line outcome
// (see AskKeeper in commands.cc).
inline constexpr const char kReloadRequestFile[] = "pgkeeper.reload-request";
inline constexpr const char kReloadResultFile[] = "pgkeeper.reload-result";

// One look at the user's files.
struct TlsFilesSeen {
  bool given = false;       // SSL_CERT_FILE or SSL_CA_FILE is set
  std::string unreadable;   // "SSL_KEY_FILE=/p (Permission denied)"; empty when all were read
  std::string content;      // the files' contents together (compared, never logged)
  std::string served;       // the same for the copies PostgreSQL serves
};

enum class RotateAction {
  kNothing,     // nothing new, or nothing to watch
  kWait,        // the files changed since the last look: they may still be being replaced
  kCannotRead,  // a file cannot be read now; what is served stays
  kLoad,        // check the new files, copy them into place, reload postgres
};

struct RotateDecision {
  RotateAction action = RotateAction::kNothing;
  std::string reason;  // for the log and for `pgkeeper reload`
};

// previous: content seen at the last look; refused: content already
// refused (not checked again until it changes); asked: `pgkeeper reload`
// or SIGHUP, which loads without waiting for the files to settle.
RotateDecision DecideRotation(const TlsFilesSeen& seen, const std::string& previous,
                              const std::string& refused, bool asked);

// Reads what DecideRotation needs; paths from config.tls and the copies.
TlsFilesSeen LookAtTlsFiles(const Config& config);

class TlsWatch {
 public:
  // Once per supervisor wake-up. asked: a reload was requested; then
  // *answer (when not null) gets "ok: ..." or "error: ...".
  // REQUIRES: postmaster_pid is the running postmaster's.
  void Tick(const Node& n, int postmaster_pid, bool asked, std::string* answer);

 private:
  std::string previous_, refused_, unreadable_said_;
};

}  // namespace pgkeeper

#endif  // PGKEEPER_TLS_ROTATE_H_

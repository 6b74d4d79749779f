#include "postgresql/tls_rotate.h"

#include <signal.h>

#include "base/fs.h"
#include "base/log.h"
#include "postgresql/tls.h"

namespace pgkeeper {

RotateDecision DecideRotation(const TlsFilesSeen& seen, const std::string& previous,
                              const std::string& refused, bool asked) {
  if (!seen.given) {
    return {RotateAction::kNothing,
            "nothing to reload: this node serves its own self-signed certificate (set "
            "SSL_CERT_FILE and SSL_KEY_FILE to serve yours)"};
  }
  if (!seen.unreadable.empty()) {
    return {RotateAction::kCannotRead,
            seen.unreadable + " cannot be read by pgkeeper, which runs as postgres after the "
            "start; a file only root can read is loaded at start only, so restart the container "
            "to load a new one, or make it readable by postgres to have it loaded live"};
  }
  if (seen.content == seen.served) {
    return {RotateAction::kNothing, "the files are the ones served; nothing to reload"};
  }
  if (!asked && seen.content != previous) {
    return {RotateAction::kWait, "the files changed since the last look; loading once they settle"};
  }
  if (!asked && seen.content == refused) {
    return {RotateAction::kNothing, "these files were refused already; waiting for them to change"};
  }
  return {RotateAction::kLoad, "the files differ from the ones served"};
}

TlsFilesSeen LookAtTlsFiles(const Config& c) {
  TlsFilesSeen seen;
  const TlsConfig& t = c.tls;
  seen.given = t.enabled && (!t.cert_file.empty() || !t.ca_file.empty() ||
                             !t.client_cert_file.empty());
  if (!seen.given) return seen;
  struct File {
    const char* var;
    std::string user, served;
  };
  const File files[] = {{"SSL_CERT_FILE", t.cert_file, ServerCertPath(c.pgdata)},
                        {"SSL_KEY_FILE", t.key_file, ServerKeyPath(c.pgdata)},
                        {"SSL_CA_FILE", t.ca_file, ServerCaPath(c.pgdata)},
                        {"REPLICATION_SSL_CERT_FILE", t.client_cert_file, ClientCertPath(c.pgdata)},
                        {"REPLICATION_SSL_KEY_FILE", t.client_key_file, ClientKeyPath(c.pgdata)}};
  for (const File& f : files) {
    if (f.user.empty()) continue;
    std::string text;
    Status st = ReadWholeFile(f.user, &text);
    if (!st.ok() && seen.unreadable.empty()) {
      seen.unreadable = std::string(f.var) + "=" + f.user + " (" + st.message() + ")";
    }
    // Length-prefixed, so that moving text from one file to the next counts.
    seen.content += std::to_string(text.size()) + ":" + text;
    text.clear();
    (void)ReadWholeFile(f.served, &text);
    seen.served += std::to_string(text.size()) + ":" + text;
  }
  return seen;
}

void TlsWatch::Tick(const Node& n, int postmaster_pid, bool asked, std::string* answer) {
  const Config& c = n.config;
  auto say = [&](const std::string& line) {
    if (answer) *answer = line;
  };
  TlsFilesSeen seen = LookAtTlsFiles(c);
  RotateDecision d = DecideRotation(seen, previous_, refused_, asked);
  previous_ = seen.content;
  switch (d.action) {
    case RotateAction::kNothing:
      say("ok: " + d.reason);
      return;
    case RotateAction::kWait:
      return;
    case RotateAction::kCannotRead:
      // Said once per cause: a root-only secret stays unreadable for good.
      if (asked || d.reason != unreadable_said_) LogInfo("TLS: " + d.reason);
      unreadable_said_ = d.reason;
      say("error: " + d.reason);
      return;
    case RotateAction::kLoad:
      break;
  }
  unreadable_said_.clear();
  const std::string before = DescribeCertificate(ServerCertPath(c.pgdata));
  const std::string old = before.empty() ? "" : " (" + before + ")";
  Status st = CheckTlsFiles(c.tls);
  if (!st.ok()) {
    refused_ = seen.content;
    const std::string line = "refused the changed TLS files: " + st.message() +
                             "; still serving the previous certificate" + old;
    LogError("TLS: " + line);
    say("error: " + line);
    return;
  }
  st = InstallTlsFiles(c, static_cast<uid_t>(-1), static_cast<gid_t>(-1));
  if (!st.ok()) {
    const std::string line = "cannot put the new TLS files in place: " + st.message();
    LogError("TLS: " + line);
    say("error: " + line);
    return;
  }
  refused_.clear();
  // PostgreSQL loads ssl_cert_file and ssl_key_file again on a reload; if
  // it could not, it would keep the pair it has (and say so in its log).
  ::kill(postmaster_pid, SIGHUP);
  const std::string now = c.tls.cert_file.empty()
                              ? "SSL_CA_FILE=" + c.tls.ca_file
                              : "SSL_CERT_FILE=" + c.tls.cert_file + " (" +
                                    DescribeCertificate(ServerCertPath(c.pgdata)) + ")";
  const std::string line = "loaded " + now + " with a configuration reload, no restart" +
                           (c.tls.cert_file.empty() || before.empty() ? "" : "; was " + before) +
                           "; open connections keep their session";
  LogInfo("TLS: " + line);
  say("ok: " + line);
}

}  // namespace pgkeeper

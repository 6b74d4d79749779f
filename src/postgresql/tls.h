// TLS for PostgreSQL's clients and replicants: the variables (parsed purely,
// like config.cc), where the served files live, and putting them there.
// With SSL_CERT_FILE and SSL_KEY_FILE the user's pair is checked and copied
// into place with the owner and mode PostgreSQL demands (a Docker secret is
// root's and world-readable, which PostgreSQL refuses); without them each
// node makes a self-signed pair once and keeps it, so TLS is on from the
// first start (docs/design.md, "TLS").
#ifndef PGKEEPER_TLS_H_
#define PGKEEPER_TLS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "base/status.h"

namespace pgkeeper {

// Fills config->tls from SSL_CERT_FILE, SSL_KEY_FILE, SSL_CA_FILE and
// FORCE_SSL, reading the files through read_file to refuse what PostgreSQL
// could not load (not PEM, an encrypted key) before anything is changed.
Status ParseTlsConfig(const Env& env, const FileReader& read_file, TlsConfig* tls);

// Where the files PostgreSQL serves live: beside PGDATA, not in it, so that
// pg_basebackup never hands one node's private key to another.
std::string TlsDir(const std::string& pgdata);
std::string ServerCertPath(const std::string& pgdata);
std::string ServerKeyPath(const std::string& pgdata);
std::string ServerCaPath(const std::string& pgdata);  // only with SSL_CA_FILE
// The replicant's client pair (REPLICATION_SSL_CERT_FILE), when given.
std::string ClientCertPath(const std::string& pgdata);
std::string ClientKeyPath(const std::string& pgdata);

// The names a self-signed certificate carries: its common name is the node
// name, and its subjectAltName every name a client may use for this node.
std::string SelfSignedSubjectAltName(const std::string& node_name, const std::string& hostname);
// openssl's arguments (after the binary) for a self-signed pair, EC P-256,
// valid ten years, written to cert and key.
std::vector<std::string> SelfSignedArgs(const std::string& node_name, const std::string& hostname,
                                        const std::string& cert, const std::string& key);

// How a replicant reaches its upstream. With SSL_CA_FILE: TLS that checks
// the upstream's certificate against that CA and its name against
// REPLICATE_FROM (verify-full), never a fallback to plaintext; without:
// libpq's default, TLS whenever the upstream offers it (prefer).
// For primary_conninfo: "" or " sslmode=verify-full sslrootcert='...'".
std::string UpstreamTlsConninfo(const Config& config);
// The same for pgkeeper's tools and children (pg_basebackup, pg_rewind,
// the self children): libpq's PGSSLMODE and PGSSLROOTCERT, or nothing.
std::vector<std::string> UpstreamTlsEnv(const Config& config);

// Whether libpq's error in connecting to the upstream is about TLS (the
// certificate, its names, the handshake) rather than anything after it; a
// refusal by the upstream's pg_hba.conf is not.
bool IsTlsFailure(const std::string& error);

// What a replicant says when its upstream's certificate fails verification:
// the upstream, libpq's reason, the names the certificate carries (as
// UpstreamCertificateNames prints them; empty if it could not be read) and
// what to change.
std::string UpstreamTlsAdvice(const Config& config, const std::string& error,
                              const std::string& names);

// `pgkeeper upstream-tls` (run by `run`, as postgres, with UpstreamTlsEnv):
// connects to the upstream as the walreceiver will. Prints JSON: ok (false
// only for a TLS failure), reached, and when not ok libpq's error and the
// names of the certificate the upstream presents (read over a second,
// unverified TLS connection).
int RunUpstreamTls(const Env& env, const std::vector<std::string>& args);

// Refuses what PostgreSQL (or the API) could not load from the file var
// names: not an absolute path, unreadable, not PEM, a key with a passphrase.
Status CheckPemFileNamed(const std::string& var, const std::string& path,
                         const FileReader& read_file, bool key);

// With openssl: both files parse, the key is the certificate's, and the
// certificate has not expired; Status::Config naming the variable otherwise.
Status CheckKeyPair(const std::string& cert_var, const std::string& cert,
                    const std::string& key_var, const std::string& key);

// Checks the user's files with openssl as PostgreSQL would load them: both
// parse, the key is the certificate's, the certificate has not expired.
// Status::Config naming the variable otherwise. Run before anything on disk
// is touched.
Status CheckTlsFiles(const TlsConfig& tls);

// Copies from to `to` atomically, with mode and owner ((uid_t)-1: leave it).
Status InstallCopy(const std::string& from, const std::string& to, mode_t mode, uid_t uid, gid_t gid);

// Copies the user's files (SSL_CA_FILE, SSL_KEY_FILE, SSL_CERT_FILE) over
// the served ones, each atomically, the key 0600; owner as PrepareTls.
Status InstallTlsFiles(const Config& config, uid_t uid, gid_t gid);

// "serial 1A2B..., valid until Dec  4 10:00:00 2027 GMT" for a PEM
// certificate file; empty when openssl cannot read it.
std::string DescribeCertificate(const std::string& path);

// Puts the served files in place before postgres starts, as root when the
// container runs as root (uid/gid: the postgres user; (uid_t)-1: leave the
// owner). REQUIRES: CheckTlsFiles passed.
Status PrepareTls(const Config& config, const std::string& node_name, const std::string& hostname,
                  uid_t uid, gid_t gid);

}  // namespace pgkeeper

#endif  // PGKEEPER_TLS_H_

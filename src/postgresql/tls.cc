#include "postgresql/tls.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <iostream>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/log.h"
#include "postgresql/pg.h"
#include "base/process.h"
#include "base/values.h"

namespace pgkeeper {
namespace {

constexpr const char kOpenssl[] = "/usr/bin/openssl";
// Present while the served pair is one pgkeeper made (not the user's).
constexpr const char kSelfSignedMarker[] = "self-signed";

bool Contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

// Reads the PEM file named by var, refusing what PostgreSQL could not load.
Status CheckPemFile(const std::string& var, const std::string& path, const FileReader& read_file,
                    bool key) {
  const std::string what = key ? "a PEM private key" : "a PEM certificate";
  if (path.empty() || path[0] != '/' || Contains(path, "'") || Contains(path, "\n")) {
    return Status::Config(var + "='" + path + "' is not usable; expected the absolute path of " +
                          what);
  }
  std::string content;
  Status st = read_file(path, &content);
  if (!st.ok()) {
    return Status::Config(var + "=" + path + " cannot be read (" + st.message() +
                          "); expected a file pgkeeper can read at start");
  }
  if (key) {
    if (Contains(content, "ENCRYPTED")) {
      return Status::Config(var + "=" + path +
                            " is encrypted with a passphrase; expected a key without one "
                            "(PostgreSQL cannot ask for it), e.g. made with openssl pkey -in "
                            "KEY -out PLAIN_KEY");
    }
    if (!Contains(content, "-----BEGIN ") || !Contains(content, "PRIVATE KEY-----")) {
      return Status::Config(var + "=" + path + " holds no private key; expected " + what);
    }
  } else if (!Contains(content, "-----BEGIN CERTIFICATE-----")) {
    return Status::Config(var + "=" + path + " holds no certificate; expected " + what);
  }
  return Status::Ok();
}

// Runs openssl with args; its output lines go to *out.
Status Openssl(const std::vector<std::string>& args, std::string* out) {
  SpawnSpec spec;
  spec.argv = {kOpenssl};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = {"PATH=/usr/bin:/bin", "LC_ALL=C"};
  std::string text;
  Status st = RunTool(spec, [&](const std::string& line) { text += line + "\n"; });
  if (out) *out = text;
  if (!st.ok()) return Status::Tool(st.message() + (text.empty() ? "" : ": " + Trim(text)));
  return Status::Ok();
}

}  // namespace

Status CheckPemFileNamed(const std::string& var, const std::string& path,
                        const FileReader& read_file, bool key) {
  return CheckPemFile(var, path, read_file, key);
}

Status CheckKeyPair(const std::string& cert_var, const std::string& cert,
                    const std::string& key_var, const std::string& key) {
  std::string cert_pub, key_pub;
  if (!Openssl({"x509", "-in", cert, "-noout", "-pubkey"}, &cert_pub).ok()) {
    return Status::Config(cert_var + "=" + cert +
                          " is not a certificate openssl can read; expected a PEM certificate");
  }
  if (!Openssl({"pkey", "-in", key, "-pubout"}, &key_pub).ok()) {
    return Status::Config(key_var + "=" + key +
                          " is not a private key openssl can read; expected a PEM private key "
                          "without a passphrase");
  }
  if (cert_pub != key_pub) {
    return Status::Config(key_var + "=" + key + " is not the key of " + cert_var + "=" + cert +
                          "; expected the private key the certificate was made for");
  }
  if (!Openssl({"x509", "-in", cert, "-noout", "-checkend", "0"}, nullptr).ok()) {
    return Status::Config(cert_var + "=" + cert +
                          " has expired; expected a certificate that is valid now");
  }
  return Status::Ok();
}

Status CheckTlsFiles(const TlsConfig& t) {
  if (!t.cert_file.empty()) {
    PGK_RETURN_IF_ERROR(CheckKeyPair("SSL_CERT_FILE", t.cert_file, "SSL_KEY_FILE", t.key_file));
  }
  if (!t.client_cert_file.empty()) {
    PGK_RETURN_IF_ERROR(CheckKeyPair("REPLICATION_SSL_CERT_FILE", t.client_cert_file,
                                     "REPLICATION_SSL_KEY_FILE", t.client_key_file));
  }
  if (!t.ca_file.empty() &&
      !Openssl({"x509", "-in", t.ca_file, "-noout"}, nullptr).ok()) {
    return Status::Config("SSL_CA_FILE=" + t.ca_file +
                          " is not a certificate openssl can read; expected a PEM certificate");
  }
  return Status::Ok();
}

// Copies from to `to` (atomically, fsynced) with mode and owner.
Status InstallCopy(const std::string& from, const std::string& to, mode_t mode, uid_t uid,
               gid_t gid) {
  std::string content;
  PGK_RETURN_IF_ERROR(ReadWholeFile(from, &content));
  PGK_RETURN_IF_ERROR(WriteFileAtomic(to, content, mode));
  if (uid != static_cast<uid_t>(-1) && ::chown(to.c_str(), uid, gid) != 0) {
    return Status::FromErrno("chown " + to, errno);
  }
  return Status::Ok();
}


Status ParseTlsConfig(const Env& env, const FileReader& read_file, TlsConfig* tls) {
  auto get = [&](const char* name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : Trim(it->second);
  };
  tls->cert_file = get("SSL_CERT_FILE");
  tls->key_file = get("SSL_KEY_FILE");
  tls->ca_file = get("SSL_CA_FILE");
  if (tls->cert_file.empty() != tls->key_file.empty()) {
    const bool cert = !tls->cert_file.empty();
    return Status::Config(std::string(cert ? "SSL_CERT_FILE" : "SSL_KEY_FILE") + " is set but " +
                          (cert ? "SSL_KEY_FILE" : "SSL_CERT_FILE") +
                          " is not; expected both (a certificate and its private key), or "
                          "neither (pgkeeper makes a self-signed certificate)");
  }
  if (!tls->cert_file.empty()) {
    PGK_RETURN_IF_ERROR(CheckPemFile("SSL_CERT_FILE", tls->cert_file, read_file, false));
    PGK_RETURN_IF_ERROR(CheckPemFile("SSL_KEY_FILE", tls->key_file, read_file, true));
  }
  if (!tls->ca_file.empty()) {
    PGK_RETURN_IF_ERROR(CheckPemFile("SSL_CA_FILE", tls->ca_file, read_file, false));
  }
  auto it = env.find("FORCE_SSL");
  if (it != env.end()) PGK_RETURN_IF_ERROR(ParseBool("FORCE_SSL", it->second, &tls->force));
  tls->client_cert_file = get("REPLICATION_SSL_CERT_FILE");
  tls->client_key_file = get("REPLICATION_SSL_KEY_FILE");
  if (tls->client_cert_file.empty() != tls->client_key_file.empty()) {
    const bool cert = !tls->client_cert_file.empty();
    return Status::Config(std::string(cert ? "REPLICATION_SSL_CERT_FILE" : "REPLICATION_SSL_KEY_FILE") +
                          " is set but " +
                          (cert ? "REPLICATION_SSL_KEY_FILE" : "REPLICATION_SSL_CERT_FILE") +
                          " is not; expected both (the replicant's client certificate and its "
                          "key), or neither");
  }
  if (!tls->client_cert_file.empty()) {
    PGK_RETURN_IF_ERROR(CheckPemFile("REPLICATION_SSL_CERT_FILE", tls->client_cert_file, read_file, false));
    PGK_RETURN_IF_ERROR(CheckPemFile("REPLICATION_SSL_KEY_FILE", tls->client_key_file, read_file, true));
  }
  const std::string auth = get("REPLICATION_AUTH");
  std::string lower;
  for (char ch : auth) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  tls->replication_cert = lower == "cert";
  if (!tls->replication_cert && !lower.empty() && lower != "password") {
    return Status::Config("REPLICATION_AUTH='" + auth +
                          "' is not a way to log in; expected password (the default) or cert");
  }
  if (tls->replication_cert && tls->ca_file.empty()) {
    return Status::Config("REPLICATION_AUTH=cert needs SSL_CA_FILE, the CA that replicants' client "
                          "certificates must be signed by; expected both");
  }
  it = env.find("PGKEEPER_TLS");
  if (it != env.end()) PGK_RETURN_IF_ERROR(ParseBool("PGKEEPER_TLS", it->second, &tls->enabled));
  if (!tls->enabled) {
    std::string set;
    if (!tls->cert_file.empty()) set = "SSL_CERT_FILE";
    else if (!tls->ca_file.empty()) set = "SSL_CA_FILE";
    else if (tls->force) set = "FORCE_SSL=True";
    else if (!tls->client_cert_file.empty()) set = "REPLICATION_SSL_CERT_FILE";
    if (!set.empty()) {
      return Status::Config("PGKEEPER_TLS=False turns TLS off, but " + set +
                            " is set; expected one or the other");
    }
  }
  return Status::Ok();
}

std::string UpstreamTlsConninfo(const Config& c) {
  if (!c.tls.enabled) return " sslmode=disable";
  std::string out;
  if (!c.tls.ca_file.empty()) out = " sslmode=verify-full sslrootcert='" + ServerCaPath(c.pgdata) + "'";
  if (!c.tls.client_cert_file.empty()) {
    out += " sslcert='" + ClientCertPath(c.pgdata) + "' sslkey='" + ClientKeyPath(c.pgdata) + "'";
  }
  return out;
}

std::vector<std::string> UpstreamTlsEnv(const Config& c) {
  if (!c.tls.enabled) return {"PGSSLMODE=disable"};
  std::vector<std::string> env;
  if (!c.tls.ca_file.empty()) {
    env = {"PGSSLMODE=verify-full", "PGSSLROOTCERT=" + ServerCaPath(c.pgdata)};
  }
  if (!c.tls.client_cert_file.empty()) {
    env.push_back("PGSSLCERT=" + ClientCertPath(c.pgdata));
    env.push_back("PGSSLKEY=" + ClientKeyPath(c.pgdata));
  }
  return env;
}

std::string UpstreamTlsAdvice(const Config& c, const std::string& error, const std::string& names) {
  const std::string up = c.replicate_from + ":" + std::to_string(c.replicate_port);
  std::string fix;
  if (error.find("does not match host name") != std::string::npos) {
    fix = "set REPLICATE_FROM to a name the certificate carries, or give " + up +
          " a certificate that names " + c.replicate_from + " (SSL_CERT_FILE and SSL_KEY_FILE there)";
  } else if (error.find("could not open certificate file") != std::string::npos ||
             error.find("private key file") != std::string::npos ||
             error.find("certificate present, but not private key") != std::string::npos) {
    fix = "this node's own client certificate could not be used (REPLICATION_SSL_CERT_FILE and "
          "REPLICATION_SSL_KEY_FILE, or a ~/.postgresql the postgres user cannot read); the "
          "master's certificate was not the problem";
  } else if (error.find("does not support SSL") != std::string::npos) {
    fix = "turn TLS on at " + up + " (pgkeeper does by default; an older image may not), or unset "
          "SSL_CA_FILE here to replicate without verifying it";
  } else {
    fix = "give " + up + " a certificate signed by the CA in SSL_CA_FILE=" + c.tls.ca_file +
          " (SSL_CERT_FILE and SSL_KEY_FILE there), or set SSL_CA_FILE to the CA that signed its "
          "certificate";
  }
  // libpq's message may span lines (one per address tried): one line here.
  std::string e;
  for (char ch : error) {
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
    if (ch == ' ' && (e.empty() || e.back() == ' ')) continue;
    e.push_back(ch);
  }
  while (!e.empty() && e.back() == ' ') e.pop_back();
  return "cannot verify the master " + up + " (SSL_CA_FILE is set, so its certificate must be " +
         "signed by that CA and name " + c.replicate_from + "): " + e +
         (names.empty() ? "" : "; its certificate names " + names) + ". To fix: " + fix +
         ". pgkeeper does not fall back to an unverified connection";
}

std::string TlsDir(const std::string& pgdata) { return pgdata + ".pgkeeper/tls"; }
std::string ServerCertPath(const std::string& pgdata) { return TlsDir(pgdata) + "/server.crt"; }
std::string ServerKeyPath(const std::string& pgdata) { return TlsDir(pgdata) + "/server.key"; }
std::string ServerCaPath(const std::string& pgdata) { return TlsDir(pgdata) + "/ca.crt"; }
std::string ClientCertPath(const std::string& pgdata) { return TlsDir(pgdata) + "/client.crt"; }
std::string ClientKeyPath(const std::string& pgdata) { return TlsDir(pgdata) + "/client.key"; }

std::string SelfSignedSubjectAltName(const std::string& node_name, const std::string& hostname) {
  std::vector<std::string> names = {node_name};
  if (!hostname.empty() && hostname != node_name) names.push_back(hostname);
  names.push_back("localhost");
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  return san + ",IP:127.0.0.1,IP:::1";
}

std::vector<std::string> SelfSignedArgs(const std::string& node_name, const std::string& hostname,
                                        const std::string& cert, const std::string& key) {
  return {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-days", "3650", "-subj", "/CN=" + node_name, "-addext",
          "subjectAltName=" + SelfSignedSubjectAltName(node_name, hostname), "-keyout", key,
          "-out", cert};
}

Status InstallTlsFiles(const Config& c, uid_t uid, gid_t gid) {
  const TlsConfig& t = c.tls;
  if (!t.ca_file.empty()) PGK_RETURN_IF_ERROR(InstallCopy(t.ca_file, ServerCaPath(c.pgdata), 0644, uid, gid));
  if (!t.cert_file.empty()) {
    // The key first: until the certificate follows, a reload would find a
    // pair that does not match and keep serving the old one.
    PGK_RETURN_IF_ERROR(InstallCopy(t.key_file, ServerKeyPath(c.pgdata), 0600, uid, gid));
    PGK_RETURN_IF_ERROR(InstallCopy(t.cert_file, ServerCertPath(c.pgdata), 0644, uid, gid));
  }
  if (!t.client_cert_file.empty()) {
    // libpq, like the server, refuses a key others may read.
    PGK_RETURN_IF_ERROR(InstallCopy(t.client_key_file, ClientKeyPath(c.pgdata), 0600, uid, gid));
    PGK_RETURN_IF_ERROR(InstallCopy(t.client_cert_file, ClientCertPath(c.pgdata), 0644, uid, gid));
  }
  return Status::Ok();
}

std::string DescribeCertificate(const std::string& path) {
  std::string out;
  if (!Openssl({"x509", "-in", path, "-noout", "-serial", "-enddate"}, &out).ok()) return "";
  std::string serial, until;
  size_t b = 0;
  while (b < out.size()) {
    size_t e = out.find('\n', b);
    if (e == std::string::npos) e = out.size();
    std::string line = out.substr(b, e - b);
    if (line.rfind("serial=", 0) == 0) serial = line.substr(7);
    if (line.rfind("notAfter=", 0) == 0) until = line.substr(9);
    b = e + 1;
  }
  return "serial " + serial + ", valid until " + until;
}

Status PrepareTls(const Config& c, const std::string& node_name, const std::string& hostname,
                  uid_t uid, gid_t gid) {
  const std::string dir = TlsDir(c.pgdata);
  const std::string cert = ServerCertPath(c.pgdata), key = ServerKeyPath(c.pgdata);
  const std::string marker = JoinPath(dir, kSelfSignedMarker);
  const TlsConfig& t = c.tls;
  if (!t.enabled) {
    LogInfo("TLS: off (PGKEEPER_TLS=False); every connection to and from this node is in the clear");
    return Status::Ok();
  }
  PGK_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  if (uid != static_cast<uid_t>(-1)) {
    for (const auto& d : {Dirname(dir), dir}) {
      if (::chown(d.c_str(), uid, gid) != 0) return Status::FromErrno("chown " + d, errno);
    }
  }
  PGK_RETURN_IF_ERROR(InstallTlsFiles(c, uid, gid));
  if (!t.cert_file.empty()) {
    if (Exists(marker)) PGK_RETURN_IF_ERROR(RemoveTree(marker));
    LogInfo("TLS: serving SSL_CERT_FILE=" + t.cert_file + " (copied to " + cert +
            ", its key readable by postgres only)");
    return Status::Ok();
  }
  if (Exists(marker) && Exists(cert) && Exists(key)) {
    LogInfo("TLS: serving this node's self-signed certificate " + cert);
    return Status::Ok();
  }
  // Made beside the served names and renamed into place: a start that stops
  // half-way leaves no half-written pair behind.
  const std::string new_cert = cert + ".new", new_key = key + ".new";
  PGK_RETURN_IF_ERROR(Openssl(SelfSignedArgs(node_name, hostname, new_cert, new_key), nullptr));
  if (::chmod(new_key.c_str(), 0600) != 0) return Status::FromErrno("chmod " + new_key, errno);
  if (::chmod(new_cert.c_str(), 0644) != 0) return Status::FromErrno("chmod " + new_cert, errno);
  if (uid != static_cast<uid_t>(-1)) {
    for (const auto& f : {new_cert, new_key}) {
      if (::chown(f.c_str(), uid, gid) != 0) return Status::FromErrno("chown " + f, errno);
    }
  }
  PGK_RETURN_IF_ERROR(Rename(new_key, key));
  PGK_RETURN_IF_ERROR(Rename(new_cert, cert));
  PGK_RETURN_IF_ERROR(WriteFileAtomic(marker, "made by pgkeeper for " + node_name + "\n", 0644));
  PGK_RETURN_IF_ERROR(SyncDir(dir));
  LogInfo("TLS: made a self-signed certificate for " + node_name + " (" + cert +
          ", valid 10 years); clients can use sslmode=require now. To serve your own, set "
          "SSL_CERT_FILE and SSL_KEY_FILE (README, \"TLS\")");
  return Status::Ok();
}

namespace {

// "CN=pg-master, DNS:pg-master, IP:172.18.0.2": the names of the
// certificate the server presents on conn (empty when there is none).
std::string PeerCertificateNames(const PgConn& conn) {
  SSL* ssl = static_cast<SSL*>(conn.TlsObject());
  X509* cert = ssl ? SSL_get1_peer_certificate(ssl) : nullptr;
  if (!cert) return "";
  std::string out;
  char cn[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0) {
    out = std::string("CN=") + cn;
  }
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
    std::string name;
    if (g->type == GEN_DNS) {
      name = "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                                  ASN1_STRING_length(g->d.dNSName));
    } else if (g->type == GEN_IPADD) {
      char buf[INET6_ADDRSTRLEN] = {0};
      int len = ASN1_STRING_length(g->d.iPAddress);
      const unsigned char* bytes = ASN1_STRING_get0_data(g->d.iPAddress);
      if ((len == 4 && inet_ntop(AF_INET, bytes, buf, sizeof(buf))) ||
          (len == 16 && inet_ntop(AF_INET6, bytes, buf, sizeof(buf)))) {
        name = std::string("IP:") + buf;
      }
    }
    if (!name.empty()) out += (out.empty() ? "" : ", ") + name;
  }
  GENERAL_NAMES_free(sans);
  X509_free(cert);
  return out;
}

}  // namespace

bool IsTlsFailure(const std::string& error) {
  // The upstream's pg_hba.conf answered ("no pg_hba.conf entry ... SSL
  // encryption"): the handshake, and with it the verification, succeeded.
  if (error.find("pg_hba.conf") != std::string::npos) return false;
  for (const char* s : {"certificate", "SSL", "does not match host name", "root certificate"}) {
    if (error.find(s) != std::string::npos) return true;
  }
  return false;
}

int RunUpstreamTls(const Env& env, const std::vector<std::string>& args) {
  Config c;
  Status st = ParseConfig(env, ReadWholeFile, &c);
  if (st.ok() && !args.empty()) st = Status::Usage("upstream-tls takes no arguments");
  if (st.ok() && !c.is_replicant()) st = Status::Usage("upstream-tls: REPLICATE_FROM is not set");
  if (!st.ok()) {
    std::cout << st.message() << std::endl;
    return st.exit_code();
  }
  // sslmode and sslrootcert come from the environment (UpstreamTlsEnv), as
  // for every other tool that reaches the upstream.
  ConnParams p = {{"host", c.replicate_from},
                  {"port", std::to_string(c.replicate_port)},
                  {"user", c.replication_login()},
                  {"password", c.replication_login_password()},
                  {"dbname", "postgres"},
                  {"application_name", "pgkeeper_tls"},
                  {"connect_timeout", "5"}};
  PgConn verified;
  Status first = verified.Connect(p);
  nlohmann::json out = {{"ok", true}, {"reached", first.ok()}, {"error", ""}, {"names", ""}};
  // Anything but a TLS failure (the upstream is down, a password) is for
  // the other checks to report.
  if (!first.ok() && IsTlsFailure(first.message())) {
    out["ok"] = false;
    out["error"] = first.message();
    // Only to read the certificate's names. libpq treats require as
    // verify-ca whenever a root certificate file exists, so name none.
    p["sslmode"] = "require";
    p["sslrootcert"] = "/nonexistent/pgkeeper-reads-names-only";
    PgConn plain;
    if (plain.Connect(p).ok()) out["names"] = PeerCertificateNames(plain);
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace pgkeeper

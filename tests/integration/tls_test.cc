// TLS as a user meets it: on by default with a self-signed certificate,
// forced with FORCE_SSL, and the user's own pair given as files that
// PostgreSQL itself would refuse to read (a Docker secret: root's, 0444).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

// Connects to node as its superuser with extra conninfo; returns the value
// of sql, or "ERROR: " and libpq's message.
std::string QueryWith(Node& node, const std::string& extra, const std::string& sql) {
  std::string conninfo = "host=127.0.0.1 port=" + std::to_string(node.port()) +
                         " user=" + node.Env("POSTGRES_USER") + " dbname=gis connect_timeout=5 " +
                         extra;
  setenv("PGPASSWORD", node.Env("POSTGRES_PASS").c_str(), 1);
  PGconn* conn = PQconnectdb(conninfo.c_str());
  unsetenv("PGPASSWORD");
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = std::string("ERROR: ") + PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0
              ? PQgetvalue(r, 0, 0)
              : std::string("ERROR: ") + PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(conn);
  return out;
}

const char kMyTls[] =
    "SELECT ssl::text || ' ' || coalesce(version, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
const char kReplicantTls[] =
    "SELECT string_agg(s.ssl::text, ',') FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)";

// Runs a shell command; true when it exits 0.
bool Sh(const std::string& cmd) { return std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) == 0; }

// A CA and a certificate signed by it for name (and the san given), in
// dir, as a user would make them with openssl (README, "TLS").
void MakeCaAndCert(const std::string& dir, const std::string& name = "localhost",
                   const std::string& san = "DNS:localhost,IP:127.0.0.1") {
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  ASSERT_TRUE(Sh("cd " + dir +
                 " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                 " -days 30 -subj /CN=test-ca -keyout ca.key -out ca.crt"
                 " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                 " -subj /CN=" + name + " -keyout server.key -out server.csr"
                 " && printf 'subjectAltName=" + san + "\\n' > san.ext"
                 " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
                 " -days 30 -extfile san.ext -out server.crt"));
}

// A directory only root may enter (when the test runs as root).
std::string RootOnlyHome(const Scratch& scratch) {
  std::string home = scratch.path() + "/root-home";
  if (mkdir(home.c_str(), 0700) != 0 && errno != EEXIST) ADD_FAILURE() << "mkdir " << home;
  return home;
}

// A master serving the pair in dir (MakeCaAndCert) and a replicant that
// reaches it as host and verifies it against ca.
struct VerifiedPair {
  VerifiedPair(const std::string& dir, const std::string& host, const std::string& ca)
      : master(scratch, "master",
               {{"SSL_CERT_FILE", dir + "/server.crt"}, {"SSL_KEY_FILE", dir + "/server.key"}}),
        replicant(scratch, "replicant",
                  ReplicantOf(master, {{"REPLICATE_FROM", host},
                                       {"SSL_CA_FILE", ca},
                                       // As Docker sets it: root's home, which
                                       // postgres may not enter.
                                       {"HOME", RootOnlyHome(scratch)}})) {}
  Scratch scratch;
  Node master;
  Node replicant;
};

TEST(Tls, OnByDefaultWithASelfSignedCertificateForClientsAndTheReplicant) {
  Pair p;
  p.Start();
  EXPECT_TRUE(p.master.LogContains("TLS: made a self-signed certificate for master"));
  EXPECT_EQ(QueryWith(p.master, "sslmode=require", kMyTls).substr(0, 4), "true");
  // TLS 1.2 at the least: a client that offers only 1.1 is turned away.
  EXPECT_NE(QueryWith(p.master, "sslmode=require ssl_max_protocol_version=TLSv1.1", kMyTls)
                .find("ERROR"),
            std::string::npos);
  // Without FORCE_SSL a client may still go without.
  EXPECT_EQ(QueryWith(p.master, "sslmode=disable", kMyTls), "false ");
  // The replicant streams over TLS (libpq's default sslmode=prefer).
  EXPECT_TRUE(WaitFor([&] { return p.master.Query(kReplicantTls) == "true"; }, seconds(30)))
      << p.master.Query(kReplicantTls);
  // Each node has its own pair, beside its data, never in it.
  EXPECT_FALSE(FileExists(p.replicant.pgdata() + "/server.key"));
  std::string cert = p.master.pgdata() + ".pgkeeper/tls/server.crt";
  std::string key = p.master.pgdata() + ".pgkeeper/tls/server.key";
  struct stat st;
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Kept: a restart serves the same certificate.
  std::string before = ReadFile(cert);
  ASSERT_EQ(p.master.Stop(), 0);
  p.master.Start();
  p.master.WaitHealthy();
  EXPECT_EQ(ReadFile(cert), before);
  EXPECT_TRUE(p.master.LogContains("TLS: serving this node's self-signed certificate"));
}

TEST(Tls, ForceSslRefusesPlainConnectionsByNameAndTheReplicantStillStreams) {
  Pair p(Vars{{"FORCE_SSL", "True"}}, Vars{{"FORCE_SSL", "True"}});
  p.Start();
  std::string plain = QueryWith(p.master, "sslmode=disable", kMyTls);
  EXPECT_NE(plain.find("no encryption"), std::string::npos) << plain;
  EXPECT_EQ(QueryWith(p.master, "sslmode=require", kMyTls).substr(0, 4), "true");
  ASSERT_EQ(p.master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM t", "1");
  EXPECT_EQ(p.master.Query(kReplicantTls), "true");
}

TEST(Tls, TheUsersPairGivenAsARootOnlySecretIsServedAndVerifiable) {
  if (geteuid() != 0) GTEST_SKIP() << "a root-owned secret needs root";
  Scratch scratch;
  std::string secrets = scratch.path() + "/secrets";
  MakeCaAndCert(secrets);
  ASSERT_EQ(chmod(secrets.c_str(), 0700), 0);
  // As Docker mounts a secret: root's, world-readable, in a directory only
  // root may enter; PostgreSQL would refuse the key for its mode and owner.
  ASSERT_EQ(chmod((secrets + "/server.key").c_str(), 0444), 0);
  Node master(scratch, "master",
              {{"SSL_CERT_FILE", secrets + "/server.crt"}, {"SSL_KEY_FILE", secrets + "/server.key"}});
  master.Start();
  master.WaitHealthy();
  EXPECT_TRUE(master.LogContains("TLS: serving SSL_CERT_FILE=" + secrets + "/server.crt"));
  // A client that trusts only the CA and checks the name accepts the server.
  std::string verified = QueryWith(master, "sslmode=verify-full sslrootcert=" + secrets +
                                               "/ca.crt host=localhost hostaddr=127.0.0.1",
                                   kMyTls);
  EXPECT_EQ(verified.substr(0, 4), "true") << verified;
  master.Stop();
}

TEST(Tls, APairThatDoesNotBelongTogetherIsRefusedBeforeAnythingIsMade) {
  Scratch scratch;
  std::string secrets = scratch.path() + "/secrets";
  MakeCaAndCert(secrets);
  // The CA's key with the server's certificate.
  Node master(scratch, "master",
              {{"SSL_CERT_FILE", secrets + "/server.crt"}, {"SSL_KEY_FILE", secrets + "/ca.key"}});
  master.Start();
  EXPECT_EQ(master.Wait(seconds(20)), 3);
  EXPECT_TRUE(master.LogContains("configuration error: SSL_KEY_FILE=" + secrets +
                                 "/ca.key is not the key of SSL_CERT_FILE=" + secrets +
                                 "/server.crt"))
      << master.Log();
  EXPECT_FALSE(FileExists(master.pgdata())) << "nothing on disk is touched";
}

// A fresh directory for a test's certificates, removed afterwards.
struct CertDir {
  explicit CertDir(const std::string& tag)
      : path(std::string(::testing::TempDir()) + "/pgkeeper-tls-" + tag + "-" +
             std::to_string(getpid())) {
    Sh("rm -rf " + path);
  }
  ~CertDir() { Sh("rm -rf " + path); }
  std::string path;
};

// Starts p's master, then its replicant, which must refuse to go on (exit
// code 4); returns the replicant's log.
std::string RefusedReplicantLog(VerifiedPair& p) {
  p.master.Start();
  p.master.WaitHealthy();
  p.replicant.Start();
  EXPECT_EQ(p.replicant.Wait(seconds(60)), 4);
  std::string log = p.replicant.Log();
  EXPECT_NE(log.find("cannot verify the master localhost:"), std::string::npos) << log;
  EXPECT_EQ(log.find("pg_basebackup:"), std::string::npos) << "nothing was copied";
  return log;
}

// The request's scenario with a CA: the replicant checks that its master is
// the one the CA vouches for, by name.
TEST(Tls, AReplicantWithTheCaStreamsWithVerifyFull) {
  CertDir dir("ok");
  MakeCaAndCert(dir.path);
  VerifiedPair p(dir.path, "localhost", dir.path + "/ca.crt");
  p.master.Start();
  p.master.WaitHealthy();
  p.replicant.Start();
  p.replicant.WaitHealthy();
  EXPECT_TRUE(p.replicant.LogContains("replicating with sslmode=verify-full"));
  EXPECT_NE(ReadFile(p.replicant.pgdata() + "/pgkeeper.conf").find("sslmode=verify-full"),
            std::string::npos);
  ASSERT_EQ(p.master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM t", "1");
  EXPECT_EQ(p.master.Query(kReplicantTls), "true");
}

TEST(Tls, AMasterWhoseCertificateNamesAnotherHostStopsTheReplicantWithTheNamesAndTheFix) {
  CertDir dir("name");
  MakeCaAndCert(dir.path, "db.example.com", "DNS:db.example.com");
  VerifiedPair p(dir.path, "localhost", dir.path + "/ca.crt");
  std::string log = RefusedReplicantLog(p);
  EXPECT_NE(log.find("does not match host name \"localhost\""), std::string::npos) << log;
  EXPECT_NE(log.find("its certificate names CN=db.example.com, DNS:db.example.com"), std::string::npos)
      << log;
  EXPECT_NE(log.find("set REPLICATE_FROM to a name the certificate carries"), std::string::npos) << log;
}

TEST(Tls, AMasterWithACertificateFromAnotherCaStopsTheReplicant) {
  CertDir dir("ca");
  MakeCaAndCert(dir.path);
  MakeCaAndCert(dir.path + "/other");
  VerifiedPair p(dir.path, "localhost", dir.path + "/other/ca.crt");
  std::string log = RefusedReplicantLog(p);
  EXPECT_NE(log.find("its certificate names CN=localhost"), std::string::npos) << log;
  EXPECT_NE(log.find("a certificate signed by the CA in SSL_CA_FILE=" + dir.path + "/other/ca.crt"),
            std::string::npos)
      << log;
}

// The first line a shell command prints (stderr dropped).
std::string FirstLine(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[512];
  if (fgets(buf, sizeof(buf), f)) out = buf;
  pclose(f);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// "serial=..." of the certificate node serves to a new TLS client.
std::string ServedSerial(Node& node) {
  return FirstLine("openssl s_client -starttls postgres -connect 127.0.0.1:" +
                   std::to_string(node.port()) +
                   " </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null");
}

std::string FileSerial(const std::string& path) {
  return FirstLine("openssl x509 -noout -serial -in " + path);
}

// Rotation as a user does it: the files behind SSL_CERT_FILE and
// SSL_KEY_FILE are replaced (a renewed certificate), and the new one is
// served without a restart; a key that does not belong is refused and the
// certificate served before stays.
TEST(Tls, ARenewedPairIsServedWithoutARestartAndABadKeyIsRefusedKeepingTheOld) {
  Scratch scratch;
  std::string live = scratch.path() + "/live", renewed = scratch.path() + "/renewed",
              stray = scratch.path() + "/stray";
  MakeCaAndCert(live);
  MakeCaAndCert(renewed);
  MakeCaAndCert(stray);
  // Readable by postgres, as a Docker secret is (0444); pgkeeper runs as
  // postgres once it has started.
  for (const auto& d : {live, renewed, stray}) ASSERT_TRUE(Sh("chmod 0444 " + d + "/server.key"));
  Node master(scratch, "master",
              {{"SSL_CERT_FILE", live + "/server.crt"}, {"SSL_KEY_FILE", live + "/server.key"}});
  master.Start();
  master.WaitHealthy();
  const std::string first = FileSerial(live + "/server.crt");
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(ServedSerial(master), first);
  const std::string started = master.Query("SELECT pg_postmaster_start_time()");

  // Renewed in place, key first, as cp or a secret update would.
  ASSERT_TRUE(Sh("cp " + renewed + "/server.key " + live + "/server.key && cp " + renewed +
                 "/server.crt " + live + "/server.crt"));
  const std::string second = FileSerial(renewed + "/server.crt");
  ASSERT_NE(second, first);
  EXPECT_TRUE(WaitFor([&] { return ServedSerial(master) == second; }, seconds(30)))
      << ServedSerial(master) << "\n" << master.Log();
  EXPECT_EQ(master.Query("SELECT pg_postmaster_start_time()"), started) << "no restart";
  EXPECT_TRUE(master.LogContains("with a configuration reload, no restart"));

  // A key that is not the certificate's: `pgkeeper reload` refuses it by
  // name and the renewed certificate is still the one served.
  ASSERT_TRUE(Sh("cp " + stray + "/server.key " + live + "/server.key"));
  std::string out;
  EXPECT_NE(master.Run("reload", &out), 0);
  EXPECT_NE(out.find("SSL_KEY_FILE=" + live + "/server.key is not the key of SSL_CERT_FILE"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("still serving the previous certificate"), std::string::npos) << out;
  EXPECT_EQ(ServedSerial(master), second);
  EXPECT_EQ(master.Query("SELECT pg_postmaster_start_time()"), started);
  EXPECT_EQ(QueryWith(master, "sslmode=require", kMyTls).substr(0, 4), "true");

  // Put right again, and asked for at once: loaded.
  ASSERT_TRUE(Sh("cp " + renewed + "/server.key " + live + "/server.key"));
  EXPECT_EQ(master.Run("reload", &out), 0) << out;
  EXPECT_EQ(ServedSerial(master), second);

  // A key only root can read cannot be loaded live; reload says how to load it.
  if (geteuid() == 0) {
    ASSERT_TRUE(Sh("chmod 0400 " + live + "/server.key"));
    EXPECT_NE(master.Run("reload", &out), 0);
    EXPECT_NE(out.find("restart the container"), std::string::npos) << out;
  }
  EXPECT_EQ(master.Query("SELECT pg_postmaster_start_time()"), started);
  master.Stop();
}

// A client certificate for cn, signed by the CA MakeCaAndCert made in dir:
// client.crt and client.key there.
void MakeClientCert(const std::string& dir, const std::string& cn) {
  ASSERT_TRUE(Sh("cd " + dir +
                 " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                 " -subj /CN=" + cn + " -keyout client.key -out client.csr"
                 " && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
                 " -days 30 -out client.crt"));
}

// REPLICATION_AUTH=cert: the master lets replicants in by their client
// certificate alone, and one without a certificate cannot copy it.
TEST(Tls, AReplicantLogsInWithItsClientCertificateAndOneWithoutCannotCopy) {
  CertDir dir("client");
  MakeCaAndCert(dir.path);
  Scratch scratch;
  Node master(scratch, "master",
              {{"SSL_CERT_FILE", dir.path + "/server.crt"},
               {"SSL_KEY_FILE", dir.path + "/server.key"},
               {"SSL_CA_FILE", dir.path + "/ca.crt"},
               {"REPLICATION_AUTH", "cert"}});
  MakeClientCert(dir.path, master.Env("POSTGRES_USER"));
  Node replicant(scratch, "replicant",
                 ReplicantOf(master, {{"REPLICATE_FROM", "localhost"},
                                      {"SSL_CA_FILE", dir.path + "/ca.crt"},
                                      {"REPLICATION_SSL_CERT_FILE", dir.path + "/client.crt"},
                                      {"REPLICATION_SSL_KEY_FILE", dir.path + "/client.key"}}));
  master.Start();
  master.WaitHealthy();
  EXPECT_NE(ReadFile(master.pgdata() + "/pg_hba.conf").find("cert"), std::string::npos);
  replicant.Start();
  replicant.WaitHealthy();
  ASSERT_EQ(master.Query("CREATE TABLE t AS SELECT 1 AS x"), "OK");
  replicant.WaitQuery("SELECT count(*) FROM t", "1");
  const char kClientDn[] =
      "SELECT string_agg(s.client_dn, ',') FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)";
  EXPECT_TRUE(WaitFor([&] { return master.Query(kClientDn) == "/CN=" + master.Env("POSTGRES_USER"); },
                      seconds(30)))
      << master.Query(kClientDn);

  // Same CA, same password, but no certificate: refused, nothing copied.
  Node stranger(scratch, "stranger",
                ReplicantOf(master, {{"REPLICATE_FROM", "localhost"},
                                     {"SSL_CA_FILE", dir.path + "/ca.crt"}}));
  stranger.Start();
  stranger.WaitLog("requires a valid client certificate", seconds(60));
  EXPECT_FALSE(stranger.Healthy());
  stranger.Stop();
}

}  // namespace
}  // namespace pgkeeper::testing

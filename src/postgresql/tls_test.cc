#include "postgresql/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kCert[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
constexpr char kKey[] = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";

// Files as a FileReader sees them; any other path cannot be read.
FileReader Files(std::map<std::string, std::string> files) {
  return [files](const std::string& path, std::string* out) {
    auto it = files.find(path);
    if (it == files.end()) return Status::FromErrno(path, ENOENT);
    *out = it->second;
    return Status::Ok();
  };
}

const FileReader kFiles = Files({{"/run/secrets/cert", kCert},
                                 {"/run/secrets/key", kKey},
                                 {"/run/secrets/ca", kCert},
                                 {"/run/secrets/rsa-key",
                                  "-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n"},
                                 {"/run/secrets/encrypted",
                                  "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n"
                                  "-----END ENCRYPTED PRIVATE KEY-----\n"},
                                 {"/run/secrets/empty", ""}});

Status Parse(const Env& env, TlsConfig* t) { return ParseTlsConfig(env, kFiles, t); }

TEST(ParseTlsConfig, NothingGivenMeansASelfSignedPairAndTlsNotForced) {
  TlsConfig t;
  ASSERT_TRUE(Parse({}, &t).ok());
  EXPECT_EQ(t.cert_file, "");
  EXPECT_EQ(t.key_file, "");
  EXPECT_EQ(t.ca_file, "");
  EXPECT_FALSE(t.force);
}

TEST(ParseTlsConfig, TakesTheUsersPairCaAndForce) {
  TlsConfig t;
  Status st = Parse({{"SSL_CERT_FILE", "/run/secrets/cert"},
                     {"SSL_KEY_FILE", " /run/secrets/key "},
                     {"SSL_CA_FILE", "/run/secrets/ca"},
                     {"FORCE_SSL", "True"}},
                    &t);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(t.cert_file, "/run/secrets/cert");
  EXPECT_EQ(t.key_file, "/run/secrets/key");
  EXPECT_EQ(t.ca_file, "/run/secrets/ca");
  EXPECT_TRUE(t.force);
  EXPECT_TRUE(Parse({{"SSL_CERT_FILE", "/run/secrets/cert"}, {"SSL_KEY_FILE", "/run/secrets/rsa-key"}},
                    &t)
                  .ok());
}

// Every bad form: one line that names the variable, a config exit code.
TEST(ParseTlsConfig, EveryBadFormIsRefusedNamingItsVariable) {
  struct Case {
    Env env;
    std::string starts, says;
  };
  const std::string cert = "/run/secrets/cert", key = "/run/secrets/key";
  for (const Case& c : std::vector<Case>{
           {{{"SSL_CERT_FILE", cert}}, "SSL_CERT_FILE is set but SSL_KEY_FILE is not", "neither"},
           {{{"SSL_KEY_FILE", key}}, "SSL_KEY_FILE is set but SSL_CERT_FILE is not", "both"},
           {{{"SSL_CERT_FILE", "cert.pem"}, {"SSL_KEY_FILE", key}}, "SSL_CERT_FILE='cert.pem'",
            "absolute path"},
           {{{"SSL_CERT_FILE", "/nope"}, {"SSL_KEY_FILE", key}}, "SSL_CERT_FILE=/nope cannot be read",
            "expected a file"},
           {{{"SSL_CERT_FILE", key}, {"SSL_KEY_FILE", key}}, "SSL_CERT_FILE=" + key,
            "holds no certificate"},
           {{{"SSL_CERT_FILE", cert}, {"SSL_KEY_FILE", cert}}, "SSL_KEY_FILE=" + cert,
            "holds no private key"},
           {{{"SSL_CERT_FILE", cert}, {"SSL_KEY_FILE", "/run/secrets/encrypted"}},
            "SSL_KEY_FILE=/run/secrets/encrypted", "passphrase"},
           {{{"SSL_CERT_FILE", cert}, {"SSL_KEY_FILE", "/run/secrets/empty"}},
            "SSL_KEY_FILE=/run/secrets/empty", "holds no private key"},
           {{{"SSL_CA_FILE", "/run/secrets/key"}}, "SSL_CA_FILE=/run/secrets/key", "no certificate"},
           {{{"SSL_CA_FILE", "relative"}}, "SSL_CA_FILE='relative'", "absolute path"},
           {{{"FORCE_SSL", "maybe"}}, "FORCE_SSL='maybe'", "boolean"},
           {{{"PGKEEPER_TLS", "off-ish"}}, "PGKEEPER_TLS='off-ish'", "boolean"},
           {{{"REPLICATION_AUTH", "kerberos"}}, "REPLICATION_AUTH='kerberos'", "password"},
           {{{"REPLICATION_AUTH", "cert"}}, "REPLICATION_AUTH=cert needs SSL_CA_FILE", "both"},
           {{{"REPLICATION_SSL_CERT_FILE", cert}}, "REPLICATION_SSL_CERT_FILE is set but", "both"},
           {{{"REPLICATION_SSL_KEY_FILE", key}}, "REPLICATION_SSL_KEY_FILE is set but", "both"},
           {{{"REPLICATION_SSL_CERT_FILE", cert}, {"REPLICATION_SSL_KEY_FILE", cert}},
            "REPLICATION_SSL_KEY_FILE=" + cert, "no private key"},
           {{{"REPLICATION_SSL_CERT_FILE", "c.pem"}, {"REPLICATION_SSL_KEY_FILE", key}},
            "REPLICATION_SSL_CERT_FILE='c.pem'", "absolute path"},
           {{{"PGKEEPER_TLS", "False"}, {"REPLICATION_SSL_CERT_FILE", cert},
             {"REPLICATION_SSL_KEY_FILE", key}},
            "PGKEEPER_TLS=False", "REPLICATION_SSL_CERT_FILE is set"},
           {{{"PGKEEPER_TLS", "False"}, {"FORCE_SSL", "True"}}, "PGKEEPER_TLS=False",
            "FORCE_SSL=True is set"},
           {{{"PGKEEPER_TLS", "False"}, {"SSL_CA_FILE", "/run/secrets/ca"}}, "PGKEEPER_TLS=False",
            "SSL_CA_FILE is set"},
           {{{"PGKEEPER_TLS", "False"}, {"SSL_CERT_FILE", cert}, {"SSL_KEY_FILE", key}},
            "PGKEEPER_TLS=False", "SSL_CERT_FILE is set"},
       }) {
    TlsConfig t;
    Status st = Parse(c.env, &t);
    ASSERT_FALSE(st.ok()) << c.starts;
    EXPECT_EQ(st.code(), ExitCode::kConfig) << c.starts;
    EXPECT_THAT(st.message(), StartsWith(c.starts));
    EXPECT_THAT(st.message(), HasSubstr(c.says));
    EXPECT_EQ(st.message().find('\n'), std::string::npos);
  }
}

TEST(ParseTlsConfig, ReplicationByCertificate) {
  TlsConfig t;
  Status st = Parse({{"REPLICATION_AUTH", "Cert"},
                     {"SSL_CA_FILE", "/run/secrets/ca"},
                     {"REPLICATION_SSL_CERT_FILE", "/run/secrets/cert"},
                     {"REPLICATION_SSL_KEY_FILE", "/run/secrets/key"}},
                    &t);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(t.replication_cert);
  EXPECT_EQ(t.client_cert_file, "/run/secrets/cert");
  ASSERT_TRUE(Parse({{"REPLICATION_AUTH", "password"}}, &t).ok());
  EXPECT_FALSE(t.replication_cert);
  Config c;
  c.pgdata = "/d";
  c.tls.client_cert_file = "/run/secrets/cert";
  c.tls.client_key_file = "/run/secrets/key";
  EXPECT_EQ(UpstreamTlsEnv(c),
            (std::vector<std::string>{"PGSSLCERT=/d.pgkeeper/tls/client.crt",
                                      "PGSSLKEY=/d.pgkeeper/tls/client.key"}));
}

TEST(ParseTlsConfig, TlsCanBeTurnedOffForBothDirections) {
  TlsConfig t;
  ASSERT_TRUE(Parse({}, &t).ok());
  EXPECT_TRUE(t.enabled);
  ASSERT_TRUE(Parse({{"PGKEEPER_TLS", "False"}, {"FORCE_SSL", "False"}}, &t).ok());
  EXPECT_FALSE(t.enabled);
  Config c;
  c.pgdata = "/d";
  c.tls = t;
  EXPECT_EQ(UpstreamTlsConninfo(c), " sslmode=disable");
  EXPECT_EQ(UpstreamTlsEnv(c), std::vector<std::string>{"PGSSLMODE=disable"});
  c.tls.enabled = true;
  EXPECT_EQ(UpstreamTlsConninfo(c), "");
  EXPECT_TRUE(UpstreamTlsEnv(c).empty());
}

TEST(ParseTlsConfig, IsPartOfTheConfiguration) {
  Config c;
  Status st = ParseConfig({{"POSTGRES_PASS", "x"}, {"FORCE_SSL", "yes"}}, kFiles, &c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(c.tls.force);
  st = ParseConfig({{"POSTGRES_PASS", "x"}, {"SSL_KEY_FILE", "/run/secrets/key"}}, kFiles, &c);
  EXPECT_THAT(st.message(), StartsWith("SSL_KEY_FILE is set but SSL_CERT_FILE is not"));
}

TEST(TlsDir, LiesBesidePgdataSoCopiesOfTheDataNeverCarryTheKey) {
  EXPECT_EQ(TlsDir("/var/lib/postgresql/data"), "/var/lib/postgresql/data.pgkeeper/tls");
  EXPECT_EQ(ServerCertPath("/d"), "/d.pgkeeper/tls/server.crt");
  EXPECT_EQ(ServerKeyPath("/d"), "/d.pgkeeper/tls/server.key");
  EXPECT_EQ(ServerCaPath("/d"), "/d.pgkeeper/tls/ca.crt");
}

TEST(SelfSigned, NamesTheNodeItsHostAndLoopback) {
  EXPECT_EQ(SelfSignedSubjectAltName("pg-master", "a1b2c3"),
            "DNS:pg-master,DNS:a1b2c3,DNS:localhost,IP:127.0.0.1,IP:::1");
  EXPECT_EQ(SelfSignedSubjectAltName("pg-master", "pg-master"),
            "DNS:pg-master,DNS:localhost,IP:127.0.0.1,IP:::1");
  auto args = SelfSignedArgs("pg-master", "pg-master", "/t/c", "/t/k");
  std::string joined;
  for (const auto& a : args) joined += a + " ";
  EXPECT_THAT(joined, HasSubstr("req -x509 "));
  EXPECT_THAT(joined, HasSubstr("-subj /CN=pg-master "));
  EXPECT_THAT(joined, HasSubstr("-nodes "));
  EXPECT_THAT(joined, HasSubstr("-keyout /t/k -out /t/c"));
}

TEST(UpstreamTls, WithoutACaLibpqsDefaultWithOneVerifyFull) {
  Config c;
  c.pgdata = "/d";
  c.replicate_from = "pg-master";
  EXPECT_EQ(UpstreamTlsConninfo(c), "");
  EXPECT_TRUE(UpstreamTlsEnv(c).empty());
  c.tls.ca_file = "/run/secrets/ca.crt";
  EXPECT_EQ(UpstreamTlsConninfo(c), " sslmode=verify-full sslrootcert='/d.pgkeeper/tls/ca.crt'");
  EXPECT_EQ(UpstreamTlsEnv(c),
            (std::vector<std::string>{"PGSSLMODE=verify-full", "PGSSLROOTCERT=/d.pgkeeper/tls/ca.crt"}));
}

TEST(IsTlsFailure, ARefusalByTheUpstreamsHbaCameAfterAVerifiedHandshake) {
  EXPECT_TRUE(IsTlsFailure("connection to server at \"m\", port 5432 failed: server certificate "
                           "for \"x\" does not match host name \"m\""));
  EXPECT_TRUE(IsTlsFailure("SSL error: certificate verify failed"));
  EXPECT_FALSE(IsTlsFailure("connection to server at \"172.23.0.1\", port 17777 failed: FATAL:  no "
                            "pg_hba.conf entry for host \"172.22.0.1\", user \"docker\", database "
                            "\"postgres\", SSL encryption"));
  EXPECT_FALSE(IsTlsFailure("connection to server at \"m\", port 5432 failed: Connection refused"));
}

TEST(UpstreamTlsAdvice, AClientCertificateThatCannotBeReadIsNotBlamedOnTheMaster) {
  Config c;
  c.replicate_from = "pg-master";
  c.tls.ca_file = "/run/secrets/ca.crt";
  std::string advice = UpstreamTlsAdvice(
      c, "could not open certificate file \"/root/.postgresql/postgresql.crt\": Permission denied", "");
  EXPECT_THAT(advice, HasSubstr("this node's own client certificate could not be used"));
  EXPECT_THAT(advice, Not(HasSubstr("give pg-master")));
}

TEST(UpstreamTlsAdvice, NamesTheUpstreamTheReasonTheCertificatesNamesAndTheFix) {
  Config c;
  c.replicate_from = "pg-master";
  c.replicate_port = 5432;
  c.tls.ca_file = "/run/secrets/ca.crt";
  std::string name = UpstreamTlsAdvice(
      c,
      "connection to server at \"pg-master\" (172.18.0.2), port 5432 failed: server certificate "
      "for \"db.example.com\" does not match host name \"pg-master\"\n",
      "CN=db.example.com, DNS:db.example.com");
  EXPECT_THAT(name, StartsWith("cannot verify the master pg-master:5432 (SSL_CA_FILE is set"));
  EXPECT_THAT(name, HasSubstr("does not match host name \"pg-master\"; its certificate names "
                              "CN=db.example.com, DNS:db.example.com. To fix: set REPLICATE_FROM to "
                              "a name the certificate carries, or give pg-master:5432 a "
                              "certificate that names pg-master"));
  EXPECT_THAT(name, HasSubstr("does not fall back to an unverified connection"));
  EXPECT_EQ(name.find('\n'), std::string::npos);
  std::string ca = UpstreamTlsAdvice(c, "certificate verify failed", "CN=pg-master");
  EXPECT_THAT(ca, HasSubstr("To fix: give pg-master:5432 a certificate signed by the CA in "
                            "SSL_CA_FILE=/run/secrets/ca.crt"));
  std::string plain = UpstreamTlsAdvice(c, "server does not support SSL, but SSL was required", "");
  EXPECT_THAT(plain, HasSubstr("turn TLS on at pg-master:5432"));
  EXPECT_THAT(plain, Not(HasSubstr("its certificate names")));
}

}  // namespace
}  // namespace pgkeeper

#include "postgresql/render.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace pgkeeper {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kPassword[] = "Sup3r-Secret-Passw0rd";
constexpr char kReplPassword[] = "Repl-Secret-Passw0rd";

Config BaseConfig() {
  Config c;
  c.superuser_password = kPassword;
  return c;
}

// The non-comment lines of a pg_hba.conf / pg_ident.conf, split into fields.
std::vector<std::vector<std::string>> Rules(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> rule;
    std::string f;
    while (fields >> f) rule.push_back(f);
    if (!rule.empty() && rule[0][0] != '#') out.push_back(rule);
  }
  return out;
}

using Rule = std::vector<std::string>;

// Decodes a quoted postgresql.conf string value the way PostgreSQL's
// configuration scanner does ('' is a quote, backslash escapes), returning
// what the server would see.
std::string GucUnquote(const std::string& value) {
  EXPECT_GE(value.size(), 2u);
  EXPECT_EQ(value.front(), '\'');
  EXPECT_EQ(value.back(), '\'');
  std::string out;
  for (size_t i = 1; i + 1 < value.size(); ++i) {
    char ch = value[i];
    if (ch == '\'') {
      EXPECT_EQ(value[i + 1], '\'') << "unescaped quote inside " << value;
      out.push_back('\'');
      ++i;
    } else if (ch == '\\') {
      char next = value[++i];
      switch (next) {
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        default: out.push_back(next);  // octal escapes are not produced here
      }
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

// Parses a libpq connection string (key=value or key='quoted \' value').
std::map<std::string, std::string> ParseConninfo(const std::string& s) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i == s.size()) break;
    size_t eq = s.find('=', i);
    EXPECT_NE(eq, std::string::npos) << s;
    if (eq == std::string::npos) break;
    std::string key = s.substr(i, eq - i);
    i = eq + 1;
    std::string value;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value.push_back(s[i++]);
      }
      ++i;  // closing quote
    } else {
      while (i < s.size() && s[i] != ' ') value.push_back(s[i++]);
    }
    out[key] = value;
  }
  return out;
}

// "name = value" lines of a rendered pgkeeper.conf; each name must be unique.
std::map<std::string, std::string> Settings(const std::string& conf) {
  std::map<std::string, std::string> out;
  std::istringstream in(conf);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find(" = ");
    EXPECT_NE(eq, std::string::npos) << line;
    if (eq == std::string::npos) continue;
    std::string name = line.substr(0, eq);
    EXPECT_EQ(out.count(name), 0u) << "duplicate setting " << name;
    out[name] = line.substr(eq + 3);
  }
  return out;
}

// ---------------------------------------------------------------- pg_hba.conf

TEST(RenderHba, LocalConnectionsUsePeerThroughThePgkeeperMap) {
  auto rules = Rules(RenderHba(BaseConfig(), {}));
  EXPECT_THAT(rules, Contains(Rule{"local", "all", "all", "peer", "map=pgkeeper"}));
  EXPECT_THAT(rules, Contains(Rule{"local", "replication", "all", "peer", "map=pgkeeper"}));
}

TEST(RenderHba, LoopbackIsAlwaysAllowedWithScram) {
  auto rules = Rules(RenderHba(BaseConfig(), {}));
  for (const char* lo : {"127.0.0.1/32", "::1/128"}) {
    EXPECT_THAT(rules, Contains(Rule{"host", "all", "all", lo, "scram-sha-256"}));
    EXPECT_THAT(rules, Contains(Rule{"host", "replication", "\"docker\"", lo, "scram-sha-256"}));
  }
  EXPECT_EQ(rules.size(), 2u + 4u) << "only local and loopback without ranges";
}

TEST(RenderHba, EachRangeIsAllowedForAllDatabasesAndForReplicationWithScram) {
  auto rules = Rules(RenderHba(BaseConfig(), {"172.18.0.0/16", "fd00::/8"}));
  for (const char* r : {"172.18.0.0/16", "fd00::/8"}) {
    EXPECT_THAT(rules, Contains(Rule{"host", "all", "all", r, "scram-sha-256"}));
    EXPECT_THAT(rules, Contains(Rule{"host", "replication", "\"docker\"", r, "scram-sha-256"}));
  }
}

TEST(RenderHba, EveryHostRuleUsesScramAndNothingIsTrusted) {
  std::string hba = RenderHba(BaseConfig(), {"10.0.0.0/8", "samenet"});
  for (const auto& rule : Rules(hba)) {
    if (rule[0] == "host") {
      EXPECT_EQ(rule.back(), "scram-sha-256");
    }
    if (rule[0] == "local") {
      EXPECT_EQ(rule[3], "peer");
    }
  }
  EXPECT_THAT(hba, Not(HasSubstr("trust")));
  EXPECT_THAT(hba, Not(HasSubstr("md5")));
  EXPECT_THAT(hba, Not(HasSubstr("password ")));
}

TEST(RenderHba, ForceSslRefusesTcpWithoutTlsFirstAndAcceptsOnlyTls) {
  Config c = BaseConfig();
  c.tls.force = true;
  auto rules = Rules(RenderHba(c, {"10.0.0.0/8"}));
  ASSERT_GE(rules.size(), 6u);
  // After the two local lines: every address, both kinds, rejected without TLS.
  EXPECT_EQ(rules[2], (std::vector<std::string>{"hostnossl", "all", "all", "0.0.0.0/0", "reject"}));
  EXPECT_EQ(rules[3],
            (std::vector<std::string>{"hostnossl", "replication", "all", "0.0.0.0/0", "reject"}));
  EXPECT_EQ(rules[5], (std::vector<std::string>{"hostnossl", "replication", "all", "::/0", "reject"}));
  int accepting = 0;
  for (const auto& rule : rules) {
    EXPECT_NE(rule[0], "host") << "a plain host line would accept TCP without TLS";
    if (rule[0] == "hostssl") {
      EXPECT_EQ(rule.back(), "scram-sha-256");
      ++accepting;
    }
  }
  EXPECT_EQ(accepting, 6) << "loopback x2 and 10/8, each for all and for replication";
  // Without FORCE_SSL: host lines, which take TLS and plain TCP alike.
  EXPECT_THAT(RenderHba(BaseConfig(), {}), Not(HasSubstr("hostssl")));
  EXPECT_THAT(RenderHba(BaseConfig(), {}), Not(HasSubstr("reject")));
}

TEST(RenderHba, CertificateReplicationTakesNoPasswordForReplication) {
  Config c = BaseConfig();
  c.tls.replication_cert = true;
  c.tls.ca_file = "/run/secrets/ca";
  auto rules = Rules(RenderHba(c, {"10.0.0.0/8"}));
  int cert = 0;
  for (const auto& rule : rules) {
    if (rule.size() > 2 && rule[1] == "replication" && rule[0] != "local") {
      EXPECT_EQ(rule[0], "hostssl");
      EXPECT_EQ(rule.back(), "cert");
      ++cert;
    }
    if (rule.size() > 2 && rule[1] == "all" && rule[0] == "host") {
      EXPECT_EQ(rule.back(), "scram-sha-256") << "clients still log in with passwords";
    }
  }
  EXPECT_EQ(cert, 3) << "loopback x2 and 10/8";
}

TEST(RenderHba, RepeatedRangesAndLoopbackRangesAppearOnce) {
  auto rules =
      Rules(RenderHba(BaseConfig(), {"10.0.0.0/8", "127.0.0.1/32", "10.0.0.0/8", "::1/128"}));
  for (const auto& rule : rules) {
    EXPECT_EQ(std::count(rules.begin(), rules.end(), rule), 1)
        << ::testing::PrintToString(rule);
  }
  EXPECT_EQ(rules.size(), 2u + 6u) << "local x2, then loopback x2 and 10/8, each twice";
}

TEST(RenderHba, RangesFollowLoopbackInTheGivenOrder) {
  auto rules = Rules(RenderHba(BaseConfig(), {"192.168.0.0/24", "10.0.0.0/8"}));
  std::vector<std::string> addresses;
  for (const auto& r : rules) {
    if (r[0] == "host" && r[1] == "all") addresses.push_back(r[3]);
  }
  EXPECT_THAT(addresses, ElementsAre("127.0.0.1/32", "::1/128", "192.168.0.0/24", "10.0.0.0/8"));
}

TEST(RenderHba, DedicatedReplicationUserIsTheOnlyRoleAllowedToReplicateOverTheNetwork) {
  Config c = BaseConfig();
  c.replication_user = "replicator";
  c.replication_password = kReplPassword;
  auto rules = Rules(RenderHba(c, {"172.18.0.0/16"}));
  EXPECT_THAT(rules, Contains(Rule{"host", "replication", "\"replicator\"", "172.18.0.0/16",
                                   "scram-sha-256"}));
  for (const auto& r : rules) {
    if (r[0] == "host" && r[1] == "replication") {
      EXPECT_EQ(r[2], "\"replicator\"");
    }
  }
}

TEST(RenderHba, ReplicationUserWithAQuoteIsQuotedAsAnIdentifier) {
  Config c = BaseConfig();
  c.superuser = "we\"ird";
  EXPECT_THAT(RenderHba(c, {}), HasSubstr("\"we\"\"ird\""));
}

TEST(RenderHba, NeverHoldsAPassword) {
  Config c = BaseConfig();
  c.replication_user = "replicator";
  c.replication_password = kReplPassword;
  std::string hba = RenderHba(c, {"10.0.0.0/8"});
  EXPECT_THAT(hba, Not(HasSubstr(kPassword)));
  EXPECT_THAT(hba, Not(HasSubstr(kReplPassword)));
}

// ---------------------------------------------------------------- pg_ident.conf

TEST(RenderIdent, MapsEachOsUserToTheSuperuser) {
  auto rules = Rules(RenderIdent(BaseConfig(), {"app"}));
  EXPECT_THAT(rules, ElementsAre(Rule{"pgkeeper", "app", "\"docker\""}));
}

TEST(RenderIdent, PostgresAndRootMayAlsoActAsThemselves) {
  auto rules = Rules(RenderIdent(BaseConfig(), {"postgres", "root"}));
  EXPECT_THAT(rules, ElementsAre(Rule{"pgkeeper", "postgres", "\"docker\""},
                                 Rule{"pgkeeper", "postgres", "postgres"},
                                 Rule{"pgkeeper", "root", "\"docker\""},
                                 Rule{"pgkeeper", "root", "root"}));
}

TEST(RenderIdent, DedicatedReplicationUserIsMappedToo) {
  Config c = BaseConfig();
  c.replication_user = "replicator";
  auto rules = Rules(RenderIdent(c, {"app"}));
  EXPECT_THAT(rules, ElementsAre(Rule{"pgkeeper", "app", "\"docker\""},
                                 Rule{"pgkeeper", "app", "\"replicator\""}));
}

TEST(RenderIdent, SkipsEmptyAndRepeatedOsUsers) {
  auto rules = Rules(RenderIdent(BaseConfig(), {"postgres", "", "postgres", "root", "root"}));
  EXPECT_EQ(rules.size(), 4u);
  for (const auto& rule : rules) {
    EXPECT_EQ(std::count(rules.begin(), rules.end(), rule), 1);
  }
}

TEST(RenderIdent, NoOsUsersMeansOnlyComments) {
  EXPECT_THAT(Rules(RenderIdent(BaseConfig(), {})), ElementsAre());
}

// ---------------------------------------------------------------- pgkeeper.conf

TEST(RenderServerConf, MasterIsReplicationReadyAndHasAnEmptyPrimaryConninfo) {
  auto s = Settings(RenderServerConf(BaseConfig(), /*standby=*/false, "/var/run/postgresql/pgpass",
                                     "node", "node", {}));
  EXPECT_EQ(s["wal_level"], "replica");
  EXPECT_EQ(s["hot_standby"], "on");
  EXPECT_EQ(s["max_wal_senders"], "10");
  EXPECT_EQ(s["max_replication_slots"], "10");
  EXPECT_EQ(s["wal_keep_size"], "'512MB'");
  EXPECT_EQ(s["wal_log_hints"], "on");
  EXPECT_EQ(s["password_encryption"], "'scram-sha-256'");
  EXPECT_EQ(s["listen_addresses"], "'*'");
  EXPECT_EQ(s["port"], "5432");
  EXPECT_EQ(s["unix_socket_directories"], "'/var/run/postgresql'");
  EXPECT_EQ(s["primary_conninfo"], "''");
  EXPECT_EQ(s["primary_slot_name"], "''");
  EXPECT_EQ(s["max_slot_wal_keep_size"], "'4GB'");
}

TEST(RenderServerConf, TlsIsOnWithTheFilesBesidePgdataAndAtLeastTls12) {
  Config c = BaseConfig();
  c.pgdata = "/var/lib/postgresql/data";
  auto s = Settings(RenderServerConf(c, false, "/run/pgpass", "node", "node", {}));
  EXPECT_EQ(s["ssl"], "on");
  EXPECT_EQ(s["ssl_cert_file"], "'/var/lib/postgresql/data.pgkeeper/tls/server.crt'");
  EXPECT_EQ(s["ssl_key_file"], "'/var/lib/postgresql/data.pgkeeper/tls/server.key'");
  EXPECT_EQ(s["ssl_ca_file"], "''");
  EXPECT_EQ(s["ssl_min_protocol_version"], "'TLSv1.2'");
  c.tls.ca_file = "/run/secrets/ca.pem";
  s = Settings(RenderServerConf(c, true, "/run/pgpass", "node", "node", {}));
  EXPECT_EQ(s["ssl_ca_file"], "'/var/lib/postgresql/data.pgkeeper/tls/ca.crt'")
      << "the copy, not the user's path";
  // With a CA, the replicant verifies its master by it.
  c.replicate_from = "pg-master";
  s = Settings(RenderServerConf(c, true, "/run/pgpass", "node", "node", {}));
  EXPECT_THAT(s["primary_conninfo"],
              HasSubstr("sslmode=verify-full sslrootcert=''/var/lib/postgresql/data.pgkeeper/tls/ca.crt''"));
}

TEST(RenderServerConf, AClientCertificateGoesIntoPrimaryConninfo) {
  Config c = BaseConfig();
  c.pgdata = "/d";
  c.replicate_from = "pg-master";
  c.tls.client_cert_file = "/run/secrets/client.crt";
  c.tls.client_key_file = "/run/secrets/client.key";
  auto s = Settings(RenderServerConf(c, true, "/run/pgpass", "node", "node", {}));
  EXPECT_THAT(s["primary_conninfo"],
              HasSubstr("sslcert=''/d.pgkeeper/tls/client.crt'' sslkey=''/d.pgkeeper/tls/client.key''"));
}

TEST(RenderServerConf, TlsOffServesNoneAndAsksTheMasterForNone) {
  Config c = BaseConfig();
  c.tls.enabled = false;
  c.replicate_from = "pg-master";
  auto s = Settings(RenderServerConf(c, true, "/run/pgpass", "node", "node", {}));
  EXPECT_EQ(s["ssl"], "off");
  EXPECT_THAT(s["primary_conninfo"], HasSubstr(" sslmode=disable"));
}

TEST(RenderServerConf, AsynchronousUnlessReplicantsAreAskedFor) {
  auto s = Settings(RenderServerConf(BaseConfig(), false, "/run/pgpass", "node", "node", {}));
  EXPECT_EQ(s["synchronous_standby_names"], "''");
  EXPECT_EQ(s["synchronous_commit"], "on");
  EXPECT_EQ(s["wal_receiver_status_interval"], "'2s'") << "a live replicant answers this often";
}

TEST(RenderServerConf, AsksForAnyNReplicantsAtTheConfiguredLevel) {
  Config c = BaseConfig();
  c.sync_replicants = 2;
  c.sync_commit = "remote_apply";
  for (bool standby : {false, true}) {  // a promoted standby keeps the requirement
    auto s = Settings(RenderServerConf(c, standby, "/run/pgpass", "node", "node", {2, {"a", "b"}}));
    EXPECT_EQ(s["synchronous_standby_names"], "'ANY 2 (\"a\", \"b\")'");
    EXPECT_EQ(s["synchronous_commit"], "remote_apply");
  }
  // In available mode the number asked now may be lower than configured.
  auto s = Settings(RenderServerConf(c, false, "/run/pgpass", "node", "node", {1, {"a"}}));
  EXPECT_EQ(s["synchronous_standby_names"], "'ANY 1 (\"a\")'");
  // No replicant has a slot yet: a name none of them streams under, so commits wait.
  s = Settings(RenderServerConf(c, false, "/run/pgpass", "node", "node", {1, {}}));
  EXPECT_EQ(s["synchronous_standby_names"], "'ANY 1 (\"pgkeeper-none\")'");
}

TEST(RenderServerConf, FollowsTheConfiguredPortAddressesRunDirAndWalKeepSize) {
  Config c = BaseConfig();
  c.port = 6432;
  c.listen_addresses = "127.0.0.1,::1";
  c.run_dir = "/tmp/pgk run";
  c.wal_keep_size = "1GB";
  c.wal_retain_max = "-1";
  auto s = Settings(RenderServerConf(c, false, "/tmp/pgk run/pgpass", "node", "node", {}));
  EXPECT_EQ(s["port"], "6432");
  EXPECT_EQ(GucUnquote(s["listen_addresses"]), "127.0.0.1,::1");
  EXPECT_EQ(GucUnquote(s["unix_socket_directories"]), "/tmp/pgk run");
  EXPECT_EQ(GucUnquote(s["wal_keep_size"]), "1GB");
  EXPECT_EQ(GucUnquote(s["max_slot_wal_keep_size"]), "-1");
}

TEST(RenderServerConf, StandbyStreamsFromTheMasterThroughThePasswordFile) {
  Config c = BaseConfig();
  c.replicate_from = "pg-master";
  c.replicate_port = 5433;
  auto s = Settings(RenderServerConf(c, /*standby=*/true, "/var/run/postgresql/pgpass",
                                     "pg_replicant", "pg_replicant", {}));
  EXPECT_EQ(s["primary_conninfo"],
            "'host=''pg-master'' port=5433 user=''docker'' "
            "passfile=''/var/run/postgresql/pgpass'' application_name=''pg_replicant'' "
            "connect_timeout=5'");
  auto ci = ParseConninfo(GucUnquote(s["primary_conninfo"]));
  EXPECT_EQ(ci["host"], "pg-master");
  EXPECT_EQ(ci["port"], "5433");
  EXPECT_EQ(ci["user"], "docker");
  EXPECT_EQ(ci["passfile"], "/var/run/postgresql/pgpass");
  EXPECT_EQ(ci["application_name"], "pg_replicant");
  EXPECT_EQ(ci.count("password"), 0u);
  EXPECT_EQ(s["primary_slot_name"], "'pg_replicant'");
  EXPECT_EQ(s["wal_level"], "replica") << "a standby is ready to be promoted and replicated from";
  EXPECT_EQ(s["hot_standby"], "on");
}

TEST(RenderServerConf, StandbyLogsInAsTheDedicatedReplicationUserWhenSet) {
  Config c = BaseConfig();
  c.replicate_from = "10.0.0.2";
  c.replication_user = "replicator";
  c.replication_password = kReplPassword;
  auto s = Settings(RenderServerConf(c, true, "/run/pgpass", "r1", "r1", {}));
  EXPECT_EQ(ParseConninfo(GucUnquote(s["primary_conninfo"]))["user"], "replicator");
}

TEST(RenderServerConf, NeverHoldsAPassword) {
  Config c = BaseConfig();
  c.replicate_from = "pg-master";
  c.replication_user = "replicator";
  c.replication_password = kReplPassword;
  for (bool standby : {false, true}) {
    std::string conf = RenderServerConf(c, standby, "/run/pgpass", "r1", "r1", {});
    EXPECT_THAT(conf, Not(HasSubstr(kPassword)));
    EXPECT_THAT(conf, Not(HasSubstr(kReplPassword)));
    EXPECT_THAT(conf, Not(HasSubstr("password=")));
  }
}

// PostgreSQL's configuration scanner treats a backslash in a quoted value as
// an escape, so paths with one must reach the server unchanged.
TEST(RenderServerConf, ValuesWithBackslashesReachTheServerUnchanged) {
  Config c = BaseConfig();
  c.replicate_from = "pg-master";
  c.run_dir = "/run/odd\\dir";
  auto s = Settings(RenderServerConf(c, true, "/run/odd\\dir/pgpass", "r1", "r1", {}));
  EXPECT_EQ(GucUnquote(s["unix_socket_directories"]), "/run/odd\\dir");
  EXPECT_EQ(ParseConninfo(GucUnquote(s["primary_conninfo"]))["passfile"], "/run/odd\\dir/pgpass");
}

TEST(RenderServerConf, ValuesWithQuotesReachTheServerUnchanged) {
  Config c = BaseConfig();
  c.replicate_from = "pg-master";
  auto s = Settings(RenderServerConf(c, true, "/run/it's/pgpass", "r1", "r1", {}));
  EXPECT_EQ(ParseConninfo(GucUnquote(s["primary_conninfo"]))["passfile"], "/run/it's/pgpass");
}

// ---------------------------------------------------------------- password file

TEST(RenderPgpass, WritesOneHostPortAnyDatabaseUserPasswordLine) {
  EXPECT_EQ(RenderPgpass("pg-master", 5432, "docker", "secret"),
            "pg-master:5432:*:docker:secret\n");
}

TEST(RenderPgpass, EscapesColonsAndBackslashesInEveryField) {
  EXPECT_EQ(RenderPgpass("fd00::2", 5433, "us:er", "pa:ss\\word"),
            "fd00\\:\\:2:5433:*:us\\:er:pa\\:ss\\\\word\n");
}

TEST(RenderPgpass, LeavesOtherCharactersAlone) {
  EXPECT_EQ(RenderPgpass("h", 1, "u", " p@ss'\"*word "), "h:1:*:u: p@ss'\"*word \n");
}

// ---------------------------------------------------------------- postgresql.conf include

TEST(WithIncludeLine, AppendsTheIncludeLineOnce) {
  std::string out = WithIncludeLine("shared_buffers = 128MB\n");
  EXPECT_THAT(out, StartsWith("shared_buffers = 128MB\n"));
  EXPECT_THAT(out, EndsWith(std::string(kIncludeLine) + "\n"));
  EXPECT_EQ(out.find(kIncludeLine), out.rfind(kIncludeLine));
}

TEST(WithIncludeLine, IsIdempotent) {
  std::string once = WithIncludeLine("a = 1\n");
  EXPECT_EQ(WithIncludeLine(once), once);
  EXPECT_EQ(WithIncludeLine(WithIncludeLine(once)), once);
}

TEST(WithIncludeLine, EndsAnUnterminatedLastLineFirst) {
  std::string out = WithIncludeLine("a = 1");
  EXPECT_THAT(out, StartsWith("a = 1\n"));
  EXPECT_THAT(out, HasSubstr("\n" + std::string(kIncludeLine) + "\n"));
}

TEST(WithIncludeLine, LeavesAFileThatAlreadyIncludesItAnywhereUnchanged) {
  std::string conf = std::string("a = 1\n") + kIncludeLine + "\nb = 2\n";
  EXPECT_EQ(WithIncludeLine(conf), conf);
}

TEST(WithIncludeLine, WorksOnAnEmptyFile) {
  EXPECT_THAT(WithIncludeLine(""), EndsWith(std::string(kIncludeLine) + "\n"));
}

TEST(WithIncludeLine, IncludesPgkeeperConfIfItExists) {
  EXPECT_STREQ(kIncludeLine, "include_if_exists = 'pgkeeper.conf'");
  EXPECT_STREQ(kServerConfFile, "pgkeeper.conf");
}

// ---------------------------------------------------------------- quoting

TEST(QuoteIdent, WrapsInDoubleQuotesAndDoublesEmbeddedOnes) {
  EXPECT_EQ(QuoteIdent("docker"), "\"docker\"");
  EXPECT_EQ(QuoteIdent("Mixed-Case$1"), "\"Mixed-Case$1\"");
  EXPECT_EQ(QuoteIdent("we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ(QuoteIdent(""), "\"\"");
}

TEST(QuoteLiteral, WrapsInSingleQuotesAndDoublesEmbeddedOnes) {
  EXPECT_EQ(QuoteLiteral("gis"), "'gis'");
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
  EXPECT_EQ(QuoteLiteral("''"), "''''''");
  EXPECT_EQ(QuoteLiteral(""), "''");
}

TEST(QuoteLiteral, LeavesBackslashesAloneAsStandardConformingSqlDoes) {
  EXPECT_EQ(QuoteLiteral("a\\b"), "'a\\b'");
}

TEST(QuoteConninfo, WrapsInSingleQuotesAndBackslashEscapesQuotesAndBackslashes) {
  EXPECT_EQ(QuoteConninfo("pg-master"), "'pg-master'");
  EXPECT_EQ(QuoteConninfo("a b"), "'a b'");
  EXPECT_EQ(QuoteConninfo("it's"), "'it\\'s'");
  EXPECT_EQ(QuoteConninfo("a\\b"), "'a\\\\b'");
  EXPECT_EQ(QuoteConninfo(""), "''");
}

TEST(QuoteConninfo, RoundTripsThroughALibpqStyleParser) {
  for (const std::string v : {"plain", "with space", "it's", "back\\slash", "'\\'", "a=b"}) {
    EXPECT_EQ(ParseConninfo("k=" + QuoteConninfo(v))["k"], v);
  }
}

// ---------------------------------------------------------------- interface networks

InterfaceAddress V4(std::vector<uint8_t> bytes, int prefix) {
  return InterfaceAddress{AF_INET, std::move(bytes), prefix};
}

InterfaceAddress V6(const char* text, int prefix) {
  InterfaceAddress a{AF_INET6, std::vector<uint8_t>(16), prefix};
  EXPECT_EQ(inet_pton(AF_INET6, text, a.address.data()), 1) << text;
  return a;
}

TEST(NetworksOf, ClearsHostBitsOfIpv4Addresses) {
  EXPECT_THAT(NetworksOf({V4({172, 18, 0, 5}, 16)}), ElementsAre("172.18.0.0/16"));
  EXPECT_THAT(NetworksOf({V4({192, 168, 1, 77}, 24)}), ElementsAre("192.168.1.0/24"));
  EXPECT_THAT(NetworksOf({V4({10, 1, 47, 9}, 20)}), ElementsAre("10.1.32.0/20"));
  EXPECT_THAT(NetworksOf({V4({10, 255, 255, 255}, 9)}), ElementsAre("10.128.0.0/9"));
}

TEST(NetworksOf, KeepsAHostRouteWhole) {
  EXPECT_THAT(NetworksOf({V4({10, 0, 0, 7}, 32)}), ElementsAre("10.0.0.7/32"));
}

TEST(NetworksOf, SkipsIpv4Loopback) {
  EXPECT_THAT(NetworksOf({V4({127, 0, 0, 1}, 8), V4({127, 5, 5, 5}, 8)}), ElementsAre());
}

TEST(NetworksOf, SkipsIpv6LoopbackAndLinkLocal) {
  EXPECT_THAT(NetworksOf({V6("::1", 128), V6("fe80::42:acff:fe12:2", 64),
                          V6("febf::1", 64)}),
              ElementsAre());
}

TEST(NetworksOf, ClearsHostBitsOfIpv6Addresses) {
  EXPECT_THAT(NetworksOf({V6("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64)}),
              ElementsAre("2001:db8:1:2::/64"));
  EXPECT_THAT(NetworksOf({V6("fd00::5", 8)}), ElementsAre("fd00::/8"));
  EXPECT_THAT(NetworksOf({V6("fec0::1", 10)}), ElementsAre("fec0::/10")) << "not link-local";
}

TEST(NetworksOf, RemovesDuplicatesKeepingTheFirstSeenOrder) {
  EXPECT_THAT(NetworksOf({V4({172, 18, 0, 5}, 16), V4({10, 0, 0, 1}, 8), V4({172, 18, 9, 9}, 16),
                          V6("fd00::1", 64), V6("fd00::2", 64)}),
              ElementsAre("172.18.0.0/16", "10.0.0.0/8", "fd00::/64"));
}

TEST(NetworksOf, SkipsBadPrefixLengthsSizesAndFamilies) {
  InterfaceAddress v4_with_16_bytes{AF_INET, std::vector<uint8_t>(16, 1), 8};
  InterfaceAddress v6_with_4_bytes{AF_INET6, {10, 0, 0, 1}, 8};
  InterfaceAddress unknown_family{AF_UNIX, {10, 0, 0, 1}, 8};
  EXPECT_THAT(NetworksOf({V4({10, 0, 0, 1}, 33), V4({10, 0, 0, 1}, -1), V6("fd00::1", 129),
                          V4({10, 0, 0}, 8), v4_with_16_bytes, v6_with_4_bytes, unknown_family}),
              ElementsAre());
}

TEST(NetworksOf, NoAddressesMeansNoNetworks) { EXPECT_THAT(NetworksOf({}), ElementsAre()); }

// ---------------------------------------------------------------- application name

TEST(ApplicationName, ReplacesEverythingButLettersAndDigitsWithUnderscores) {
  EXPECT_EQ(ApplicationName("pg-replicant"), "pg_replicant");
  EXPECT_EQ(ApplicationName("node.example.com"), "node_example_com");
  EXPECT_EQ(ApplicationName("abc123_XYZ"), "abc123_XYZ");
  EXPECT_EQ(ApplicationName("a'b\\c d"), "a_b_c_d");
}

TEST(ApplicationName, EmptyHostNameBecomesPgkeeper) { EXPECT_EQ(ApplicationName(""), "pgkeeper"); }

TEST(ApplicationName, IsCutToSixtyThreeCharacters) {
  EXPECT_EQ(ApplicationName(std::string(100, 'h')), std::string(63, 'h'));
}

}  // namespace
}  // namespace pgkeeper

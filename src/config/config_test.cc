#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace pgkeeper {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A password that must never show up in any message.
constexpr char kSecret[] = "Sup3r-Secret-Passw0rd";

// Files the fake reader knows; any other path is unreadable.
using Files = std::map<std::string, std::string>;

FileReader FakeReader(const Files& files, std::vector<std::string>* paths_read = nullptr) {
  return [files, paths_read](const std::string& path, std::string* out) {
    if (paths_read) paths_read->push_back(path);
    auto it = files.find(path);
    if (it == files.end()) return Status::System(path + ": No such file or directory");
    *out = it->second;
    return Status::Ok();
  };
}

Env WithPassword(Env env = {}) {
  env.emplace("POSTGRES_PASS", kSecret);
  return env;
}

Status Parse(const Env& env, Config* c, const Files& files = {}) {
  return ParseConfig(env, FakeReader(files), c);
}

Config ParseOk(const Env& env, const Files& files = {}) {
  Config c;
  Status st = Parse(env, &c, files);
  EXPECT_TRUE(st.ok()) << st.message();
  return c;
}

// ---------------------------------------------------------------- defaults

TEST(ParseConfig, DefaultsNeedOnlyAPassword) {
  Config c = ParseOk(WithPassword());
  EXPECT_EQ(c.superuser, "docker");
  EXPECT_EQ(c.superuser_password, kSecret);
  EXPECT_THAT(c.databases, ElementsAre("gis"));
  EXPECT_THAT(c.extensions,
              ElementsAre("postgis", "hstore", "postgis_topology", "postgis_raster", "pgrouting"));
  EXPECT_THAT(c.allow_ip_ranges, ElementsAre()) << "empty means the node's own subnets";
  EXPECT_EQ(c.replication_user, "");
  EXPECT_EQ(c.replication_password, "");
  EXPECT_EQ(c.replicate_from, "");
  EXPECT_FALSE(c.is_replicant());
  EXPECT_EQ(c.replicate_port, 5432);
  EXPECT_TRUE(c.destroy_on_restart);
  EXPECT_FALSE(c.promote_master);
  EXPECT_EQ(c.pgdata, "/var/lib/postgresql/data");
  EXPECT_EQ(c.port, 5432);
  EXPECT_EQ(c.listen_addresses, "*");
  EXPECT_EQ(c.run_dir, "/var/run/postgresql");
  EXPECT_EQ(c.pg_bin, "/usr/lib/postgresql/15/bin");
  EXPECT_EQ(c.initdb_dir, "/docker-entrypoint-initdb.d");
  EXPECT_EQ(c.wal_keep_size, "512MB");
  EXPECT_EQ(c.clone_max_rate, "");
}

TEST(ParseConfig, DefaultDataDirectoryLiesUnderTheImagesDeclaredVolume) {
  EXPECT_THAT(ParseOk(WithPassword()).pgdata, StartsWith("/var/lib/postgresql/"));
}

TEST(ParseConfig, WithoutReplicationUserTheReplicantLogsInAsTheSuperuser) {
  Config c = ParseOk(WithPassword({{"POSTGRES_USER", "admin"}}));
  EXPECT_EQ(c.replication_login(), "admin");
  EXPECT_EQ(c.replication_login_password(), kSecret);
}

TEST(ParseConfig, MissingPasswordIsRefusedNamingEveryWayToGiveIt) {
  Config c;
  Status st = Parse({}, &c);
  EXPECT_EQ(st.code(), ExitCode::kConfig);
  EXPECT_EQ(st.exit_code(), 3);
  EXPECT_THAT(st.message(), HasSubstr("POSTGRES_PASS"));
  EXPECT_THAT(st.message(), HasSubstr("POSTGRES_PASSWORD"));
  EXPECT_THAT(st.message(), HasSubstr("POSTGRES_PASS_FILE"));
  EXPECT_THAT(st.message(), HasSubstr("POSTGRES_PASSWORD_FILE"));
}

// ---------------------------------------------------------------- superuser

TEST(ParseConfig, PostgresUserNamesTheSuperuser) {
  EXPECT_EQ(ParseOk(WithPassword({{"POSTGRES_USER", "gis_admin"}})).superuser, "gis_admin");
}

TEST(ParseConfig, NamesMayHoldDashDollarAndUnderscore) {
  EXPECT_EQ(ParseOk(WithPassword({{"POSTGRES_USER", "_my-user$1"}})).superuser, "_my-user$1");
}

TEST(ParseConfig, NamesOfSixtyThreeCharactersAreAccepted) {
  std::string name(63, 'a');
  EXPECT_EQ(ParseOk(WithPassword({{"POSTGRES_USER", name}})).superuser, name);
}

// ---------------------------------------------------------------- passwords

TEST(ParseConfig, PostgresPasswordIsAnAliasOfPostgresPass) {
  Config c = ParseOk({{"POSTGRES_PASSWORD", "other-secret"}});
  EXPECT_EQ(c.superuser_password, "other-secret");
}

TEST(ParseConfig, PasswordIsTakenVerbatimIncludingSpacesAndSpecialCharacters) {
  Config c = ParseOk({{"POSTGRES_PASS", " p@ss:w\\rd' \"x\" "}});
  EXPECT_EQ(c.superuser_password, " p@ss:w\\rd' \"x\" ");
}

TEST(ParseConfig, PasswordFileIsReadThroughTheFileReader) {
  std::vector<std::string> paths;
  Config c;
  Status st = ParseConfig({{"POSTGRES_PASS_FILE", "/run/secrets/pg"}},
                          FakeReader({{"/run/secrets/pg", "from-file"}}, &paths), &c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.superuser_password, "from-file");
  EXPECT_THAT(paths, ElementsAre("/run/secrets/pg"));
}

TEST(ParseConfig, PasswordFileTrailingNewlineIsStripped) {
  Config c = ParseOk({{"POSTGRES_PASS_FILE", "/s"}}, {{"/s", "from-file\n"}});
  EXPECT_EQ(c.superuser_password, "from-file");
}

TEST(ParseConfig, PasswordFileTrailingCarriageReturnsAndNewlinesAreStripped) {
  Config c = ParseOk({{"POSTGRES_PASS_FILE", "/s"}}, {{"/s", "from-file\r\n\n"}});
  EXPECT_EQ(c.superuser_password, "from-file");
}

TEST(ParseConfig, PostgresPasswordFileIsAnAliasOfPostgresPassFile) {
  Config c = ParseOk({{"POSTGRES_PASSWORD_FILE", "/s"}}, {{"/s", "aliased\n"}});
  EXPECT_EQ(c.superuser_password, "aliased");
}

TEST(ParseConfig, NoFileIsReadWhenThePasswordIsGivenDirectly) {
  std::vector<std::string> paths;
  Config c;
  ASSERT_TRUE(ParseConfig(WithPassword(), FakeReader({}, &paths), &c).ok());
  EXPECT_THAT(paths, ElementsAre());
}

// Pins today's behaviour: the two spellings of a secret may not both be set,
// even to the same value (plain aliases such as POSTGRES_DB may).
TEST(ParseConfig, PasswordGivenUnderBothNamesIsRefusedEvenWhenEqual) {
  Config c;
  Status st = Parse({{"POSTGRES_PASS", kSecret}, {"POSTGRES_PASSWORD", kSecret}}, &c);
  EXPECT_EQ(st.code(), ExitCode::kConfig);
  EXPECT_THAT(st.message(), HasSubstr("POSTGRES_PASS and POSTGRES_PASSWORD"));
  EXPECT_THAT(st.message(), Not(HasSubstr(kSecret)));
}

// ---------------------------------------------------------------- databases, extensions

TEST(ParseConfig, PostgresDbnameIsACommaSeparatedListWithSpacesTrimmed) {
  Config c = ParseOk(WithPassword({{"POSTGRES_DBNAME", " gis, osm ,,routing "}}));
  EXPECT_THAT(c.databases, ElementsAre("gis", "osm", "routing"));
}

TEST(ParseConfig, PostgresDbIsAnAliasOfPostgresDbname) {
  EXPECT_THAT(ParseOk(WithPassword({{"POSTGRES_DB", "app"}})).databases, ElementsAre("app"));
}

TEST(ParseConfig, PostgresDbnameAndPostgresDbMayBothBeSetToTheSameValue) {
  Config c = ParseOk(WithPassword({{"POSTGRES_DBNAME", "app"}, {"POSTGRES_DB", "app"}}));
  EXPECT_THAT(c.databases, ElementsAre("app"));
}

TEST(ParseConfig, MultipleExtensionsIsACommaSeparatedList) {
  Config c = ParseOk(WithPassword({{"POSTGRES_MULTIPLE_EXTENSIONS", "postgis, hstore"}}));
  EXPECT_THAT(c.extensions, ElementsAre("postgis", "hstore"));
}

TEST(ParseConfig, EmptyMultipleExtensionsCreatesNoExtensions) {
  EXPECT_THAT(ParseOk(WithPassword({{"POSTGRES_MULTIPLE_EXTENSIONS", ""}})).extensions, ElementsAre());
}

// ---------------------------------------------------------------- ALLOW_IP_RANGE

TEST(ParseConfig, AllowIpRangeIsACommaSeparatedListOfCidrs) {
  Config c = ParseOk(
      WithPassword({{"ALLOW_IP_RANGE", "172.18.0.0/16, fd00::/8,10.0.0.5/32,0.0.0.0/0,samenet"}}));
  EXPECT_THAT(c.allow_ip_ranges,
              ElementsAre("172.18.0.0/16", "fd00::/8", "10.0.0.5/32", "0.0.0.0/0", "samenet"));
}

TEST(ParseConfig, EmptyAllowIpRangeMeansTheNodesOwnSubnets) {
  EXPECT_THAT(ParseOk(WithPassword({{"ALLOW_IP_RANGE", ""}})).allow_ip_ranges, ElementsAre());
}

TEST(IsValidHbaAddress, AcceptsIpv4AndIpv6CidrsAndSamehostSamenet) {
  for (const char* ok : {"10.0.0.0/8", "10.0.0.0/0", "10.0.0.0/32", "::/0", "::1/128",
                         "fd00::/8", "2001:db8::/64", "samehost", "samenet"}) {
    EXPECT_TRUE(IsValidHbaAddress(ok)) << ok;
  }
}

TEST(IsValidHbaAddress, RejectsBadPrefixesMissingPrefixesAndNonAddresses) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0", "::/129", "abc/8", "10.0.0.0/", "/8",
                          "10.0.0.0/-1", "10.0.0.0/1000", "10.0.0/8", "10.0.0.256/32",
                          "10.0.0.0/8/8", "all", "", " 10.0.0.0/8", "fe80::1%eth0/64"}) {
    EXPECT_FALSE(IsValidHbaAddress(bad)) << bad;
  }
}

// ---------------------------------------------------------------- replication role

TEST(ParseConfig, ReplicationUserAndPassMakeADedicatedReplicationLogin) {
  Config c = ParseOk(
      WithPassword({{"REPLICATION_USER", "replicator"}, {"REPLICATION_PASS", "repl-secret"}}));
  EXPECT_EQ(c.replication_user, "replicator");
  EXPECT_EQ(c.replication_password, "repl-secret");
  EXPECT_EQ(c.replication_login(), "replicator");
  EXPECT_EQ(c.replication_login_password(), "repl-secret");
}

TEST(ParseConfig, ReplicationPassFileIsReadAndItsTrailingNewlineStripped) {
  Config c = ParseOk(WithPassword({{"REPLICATION_USER", "replicator"},
                                   {"REPLICATION_PASS_FILE", "/run/secrets/repl"}}),
                     {{"/run/secrets/repl", "repl-secret\n"}});
  EXPECT_EQ(c.replication_password, "repl-secret");
}

TEST(ParseConfig, EmptyReplicationUserCountsAsUnset) {
  Config c = ParseOk(WithPassword({{"REPLICATION_USER", ""}}));
  EXPECT_EQ(c.replication_user, "");
  EXPECT_EQ(c.replication_login(), "docker");
}

// ---------------------------------------------------------------- replicant settings

TEST(ParseConfig, ReplicateFromMakesTheNodeAReplicant) {
  Config c = ParseOk(WithPassword({{"REPLICATE_FROM", "pg-master"}}));
  EXPECT_EQ(c.replicate_from, "pg-master");
  EXPECT_TRUE(c.is_replicant());
}

TEST(ParseConfig, ReplicateFromAcceptsIpv4Ipv6AndTrimsSpaces) {
  EXPECT_EQ(ParseOk(WithPassword({{"REPLICATE_FROM", " 172.18.0.2 "}})).replicate_from,
            "172.18.0.2");
  EXPECT_EQ(ParseOk(WithPassword({{"REPLICATE_FROM", "fd00::2"}})).replicate_from, "fd00::2");
  EXPECT_EQ(ParseOk(WithPassword({{"REPLICATE_FROM", "db.example.com"}})).replicate_from,
            "db.example.com");
}

TEST(ParseConfig, EmptyReplicateFromMeansMaster) {
  EXPECT_FALSE(ParseOk(WithPassword({{"REPLICATE_FROM", ""}})).is_replicant());
  EXPECT_FALSE(ParseOk(WithPassword({{"REPLICATE_FROM", "  "}})).is_replicant());
}

TEST(ParseConfig, ReplicatePortAcceptsOneTo65535WithSpacesTrimmed) {
  EXPECT_EQ(ParseOk(WithPassword({{"REPLICATE_PORT", "1"}})).replicate_port, 1);
  EXPECT_EQ(ParseOk(WithPassword({{"REPLICATE_PORT", " 6543 "}})).replicate_port, 6543);
  EXPECT_EQ(ParseOk(WithPassword({{"REPLICATE_PORT", "65535"}})).replicate_port, 65535);
}

struct BoolSpelling {
  const char* text;
  bool value;
};

const BoolSpelling kBoolSpellings[] = {
    {"True", true},   {"true", true},   {"TRUE", true},   {"1", true},    {"yes", true},
    {"YES", true},    {"on", true},     {"On", true},     {" true ", true}, {"False", false},
    {"false", false}, {"FALSE", false}, {"0", false},     {"no", false},  {"No", false},
    {"off", false},   {"OFF", false},   {"", false},      {"  ", false},
};

TEST(ParseConfig, DestroyDatabaseOnRestartAcceptsEveryBooleanSpelling) {
  for (const auto& b : kBoolSpellings) {
    Config c = ParseOk(WithPassword({{"DESTROY_DATABASE_ON_RESTART", b.text}}));
    EXPECT_EQ(c.destroy_on_restart, b.value) << "'" << b.text << "'";
  }
}

TEST(ParseConfig, PromoteMasterAcceptsEveryBooleanSpelling) {
  for (const auto& b : kBoolSpellings) {
    Config c = ParseOk(WithPassword({{"PROMOTE_MASTER", b.text}}));
    EXPECT_EQ(c.promote_master, b.value) << "'" << b.text << "'";
  }
}

TEST(ParseBool, UnknownValueIsAConfigErrorNamingTheVariableAndTheAcceptedValues) {
  bool out = true;
  Status st = ParseBool("SOME_FLAG", "maybe", &out);
  EXPECT_EQ(st.code(), ExitCode::kConfig);
  EXPECT_THAT(st.message(), HasSubstr("SOME_FLAG"));
  EXPECT_THAT(st.message(), HasSubstr("maybe"));
  EXPECT_THAT(st.message(), HasSubstr("True/true/1/yes/on"));
  EXPECT_THAT(st.message(), HasSubstr("False/false/0/no/off/empty"));
  EXPECT_TRUE(out) << "a failed parse leaves the output alone";
}

// ---------------------------------------------------------------- extra variables

TEST(ParseConfig, PgdataPlacesTheDataDirectoryWithoutTrailingSlashes) {
  EXPECT_EQ(ParseOk(WithPassword({{"PGDATA", "/data/pg"}})).pgdata, "/data/pg");
  EXPECT_EQ(ParseOk(WithPassword({{"PGDATA", "/data/pg//"}})).pgdata, "/data/pg");
}

TEST(ParseConfig, PgportSetsTheListeningPort) {
  EXPECT_EQ(ParseOk(WithPassword({{"PGPORT", "6432"}})).port, 6432);
}

TEST(ParseConfig, PgkeeperVariablesSetListenAddressesAndDirectories) {
  Config c = ParseOk(WithPassword({{"PGKEEPER_LISTEN_ADDRESSES", "127.0.0.1, ::1,db.local"},
                                   {"PGKEEPER_RUN_DIR", "/tmp/run"},
                                   {"PGKEEPER_PG_BIN", "/usr/local/bin"},
                                   {"PGKEEPER_INITDB_DIR", "/init"}}));
  EXPECT_EQ(c.listen_addresses, "127.0.0.1, ::1,db.local");
  EXPECT_EQ(c.run_dir, "/tmp/run");
  EXPECT_EQ(c.pg_bin, "/usr/local/bin");
  EXPECT_EQ(c.initdb_dir, "/init");
}

TEST(ParseConfig, ListenAddressesStarMeansEveryInterface) {
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_LISTEN_ADDRESSES", "*"}})).listen_addresses, "*");
}

TEST(ParseConfig, WalKeepSizeAcceptsANumberWithAnOptionalUnit) {
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_KEEP_SIZE", "1GB"}})).wal_keep_size, "1GB");
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_KEEP_SIZE", " 2048 "}})).wal_keep_size, "2048");
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_KEEP_SIZE", "64kB"}})).wal_keep_size, "64kB");
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_KEEP_SIZE", "0"}})).wal_keep_size, "0");
}

TEST(ParseSize, ReadsBytesOrANumberWithAUnitOf1024) {
  int64_t bytes = -1;
  EXPECT_TRUE(ParseSize("0", &bytes));
  EXPECT_EQ(bytes, 0);
  EXPECT_TRUE(ParseSize("4096", &bytes));
  EXPECT_EQ(bytes, 4096);
  EXPECT_TRUE(ParseSize("64kB", &bytes));
  EXPECT_EQ(bytes, 64 << 10);
  EXPECT_TRUE(ParseSize("16MB", &bytes));
  EXPECT_EQ(bytes, 16 << 20);
  EXPECT_TRUE(ParseSize("2TB", &bytes));
  EXPECT_EQ(bytes, int64_t{2} << 40);
  for (const char* bad :
       {"", "MB", "16mb", "16 MB", "-1", "1.5GB", "16MBB", "9999999TB", "99999999999999999999"}) {
    EXPECT_FALSE(ParseSize(bad, &bytes)) << bad;
  }
}

TEST(ParseWholeNumber, TakesDigitsAloneWithinTheRange) {
  int64_t n = -1;
  EXPECT_TRUE(ParseWholeNumber("60", 2, 60, &n));
  EXPECT_EQ(n, 60);
  for (const char* bad : {"", "1", "61", "-3", "+3", " 3", "3s", "0x3", "9999999999999999999"}) {
    EXPECT_FALSE(ParseWholeNumber(bad, 2, 60, &n)) << bad;
  }
}

TEST(ParseConfig, WalRetainMaxAcceptsASizeZeroOrUnlimited) {
  EXPECT_EQ(ParseOk(WithPassword({})).wal_retain_max, "4GB");
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_RETAIN_MAX", "10GB"}})).wal_retain_max, "10GB");
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_RETAIN_MAX", " 512MB "}})).wal_retain_max, "512MB");
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_RETAIN_MAX", "0"}})).wal_retain_max, "0");
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_RETAIN_MAX", "unlimited"}})).wal_retain_max, "-1");
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_RETAIN_MAX", "Unlimited"}})).wal_retain_max, "-1");
  EXPECT_EQ(ParseOk(WithPassword({{"WAL_RETAIN_MAX", "-1"}})).wal_retain_max, "-1");
}

TEST(ParseConfig, SynchronousReplicationIsOffUnlessReplicantsAreAskedFor) {
  Config c = ParseOk(WithPassword({}));
  EXPECT_EQ(c.sync_replicants, 0);
  EXPECT_EQ(c.sync_commit, "on");
  EXPECT_FALSE(c.sync_available);
  c = ParseOk(WithPassword({{"SYNCHRONOUS_REPLICANTS", " 2 "},
                            {"SYNCHRONOUS_COMMIT", "Remote_Apply"},
                            {"SYNCHRONOUS_MODE", "available"}}));
  EXPECT_EQ(c.sync_replicants, 2);
  EXPECT_EQ(c.sync_commit, "remote_apply");
  EXPECT_TRUE(c.sync_available);
  c = ParseOk(WithPassword({{"SYNCHRONOUS_REPLICANTS", "1"}, {"SYNCHRONOUS_MODE", "STRICT"},
                            {"SYNCHRONOUS_COMMIT", "remote_write"}}));
  EXPECT_EQ(c.sync_replicants, 1);
  EXPECT_EQ(c.sync_commit, "remote_write");
  EXPECT_FALSE(c.sync_available);
  EXPECT_EQ(ParseOk(WithPassword({{"SYNCHRONOUS_REPLICANTS", ""}})).sync_replicants, 0);
}

TEST(ParseConfig, PeersAreHostsWithAnOptionalPort) {
  EXPECT_TRUE(ParseOk(WithPassword({})).peers.empty());
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_PEERS", "pg-b, 10.0.0.3:5433"}})).peers,
            (std::vector<std::string>{"pg-b", "10.0.0.3:5433"}));
  EXPECT_TRUE(ParseOk(WithPassword({{"PROMOTE_FORCE", "True"}})).promote_force);
}

TEST(ParseConfig, PeersGetTheVerdictAPromotionGivesThem) {
  // An IPv6 peer in brackets is taken (a promotion reaches it)...
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_PEERS", "[fd00::3]:5433,[fd00::4]"}})).peers,
            (std::vector<std::string>{"[fd00::3]:5433", "[fd00::4]"}));
  // ...and a bare one is refused at once, not split into host "fd00:" and
  // port 1 here and refused at the promotion.
  Config c;
  Status st = ParseConfig(WithPassword({{"PGKEEPER_PEERS", "fd00::1"}}), FakeReader({}), &c);
  EXPECT_EQ(st.code(), ExitCode::kConfig);
  EXPECT_THAT(st.message(), HasSubstr("PGKEEPER_PEERS: 'fd00::1' is not a host or host:port"));
}

TEST(ParseConfig, NodeNameDefaultsToTheHostNameAtRunTime) {
  EXPECT_EQ(ParseOk(WithPassword({})).node_name, "");
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_NODE_NAME", "pg-replicant-1"}})).node_name,
            "pg-replicant-1");
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_NODE_NAME", " "}})).node_name, "");
}

TEST(ParseConfig, CloneMaxRateAcceptsKilobytesOrKAndMSuffixes) {
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_CLONE_MAX_RATE", "50M"}})).clone_max_rate, "50M");
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_CLONE_MAX_RATE", "500k"}})).clone_max_rate, "500k");
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_CLONE_MAX_RATE", "32"}})).clone_max_rate, "32");
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_CLONE_MAX_RATE", ""}})).clone_max_rate, "");
}

// ---------------------------------------------------------------- every bad value

// One bad environment: the base is POSTGRES_PASS=kSecret; `set` overrides it
// (nullopt removes a variable); `files` are what the fake reader can read.
struct BadCase {
  const char* name;
  std::map<std::string, std::optional<std::string>> set;
  Files files;
  std::vector<std::string> named;  // must all appear in the message
};

std::string Long(char c, size_t n) { return std::string(n, c); }

const std::vector<BadCase>& BadCases() {
  static const auto* cases = new std::vector<BadCase>{
      // ports
      {"ReplicatePortAbc", {{"REPLICATE_PORT", "abc"}}, {}, {"REPLICATE_PORT", "'abc'", "1 to 65535"}},
      {"ReplicatePortZero", {{"REPLICATE_PORT", "0"}}, {}, {"REPLICATE_PORT", "'0'"}},
      {"ReplicatePort65536", {{"REPLICATE_PORT", "65536"}}, {}, {"REPLICATE_PORT", "65536"}},
      {"ReplicatePort99999", {{"REPLICATE_PORT", "99999"}}, {}, {"REPLICATE_PORT"}},
      {"ReplicatePortSixDigits", {{"REPLICATE_PORT", "100000"}}, {}, {"REPLICATE_PORT"}},
      {"ReplicatePortNegative", {{"REPLICATE_PORT", "-1"}}, {}, {"REPLICATE_PORT"}},
      {"ReplicatePortEmpty", {{"REPLICATE_PORT", ""}}, {}, {"REPLICATE_PORT"}},
      {"ReplicatePortWithTrailingText", {{"REPLICATE_PORT", "5432x"}}, {}, {"REPLICATE_PORT"}},
      {"PgportAbc", {{"PGPORT", "abc"}}, {}, {"PGPORT", "1 to 65535"}},
      {"PgportZero", {{"PGPORT", "0"}}, {}, {"PGPORT"}},
      {"Pgport65536", {{"PGPORT", "65536"}}, {}, {"PGPORT"}},
      // address ranges
      {"AllowIpRangePrefix33", {{"ALLOW_IP_RANGE", "10.0.0.0/33"}}, {}, {"ALLOW_IP_RANGE", "10.0.0.0/33", "CIDR"}},
      {"AllowIpRangeWithoutPrefix", {{"ALLOW_IP_RANGE", "10.0.0.0"}}, {}, {"ALLOW_IP_RANGE", "'10.0.0.0'"}},
      {"AllowIpRangeIpv6Prefix129", {{"ALLOW_IP_RANGE", "::/129"}}, {}, {"ALLOW_IP_RANGE", "::/129"}},
      {"AllowIpRangeNotAnAddress", {{"ALLOW_IP_RANGE", "abc/8"}}, {}, {"ALLOW_IP_RANGE", "abc/8"}},
      {"AllowIpRangeOneBadItemInAList", {{"ALLOW_IP_RANGE", "10.0.0.0/8, 10.1.0.0/99"}}, {}, {"ALLOW_IP_RANGE", "10.1.0.0/99"}},
      {"AllowIpRangeEmptyPrefix", {{"ALLOW_IP_RANGE", "10.0.0.0/"}}, {}, {"ALLOW_IP_RANGE"}},
      // booleans
      {"DestroyMaybe", {{"DESTROY_DATABASE_ON_RESTART", "maybe"}}, {}, {"DESTROY_DATABASE_ON_RESTART", "maybe", "True/true/1/yes/on"}},
      {"DestroyTwo", {{"DESTROY_DATABASE_ON_RESTART", "2"}}, {}, {"DESTROY_DATABASE_ON_RESTART"}},
      {"PromoteMaybe", {{"PROMOTE_MASTER", "maybe"}}, {}, {"PROMOTE_MASTER", "maybe"}},
      {"PromoteY", {{"PROMOTE_MASTER", "y"}}, {}, {"PROMOTE_MASTER"}},
      // superuser password
      {"PasswordMissing", {{"POSTGRES_PASS", std::nullopt}}, {}, {"POSTGRES_PASS", "not set"}},
      {"PasswordEmpty", {{"POSTGRES_PASS", ""}}, {}, {"POSTGRES_PASS is empty"}},
      {"PasswordAliasEmpty", {{"POSTGRES_PASS", std::nullopt}, {"POSTGRES_PASSWORD", ""}}, {}, {"POSTGRES_PASSWORD", "empty"}},
      {"PasswordWithEmbeddedNewline", {{"POSTGRES_PASS", "Hunter2-first\nHunter2-second"}}, {}, {"POSTGRES_PASS", "line break"}},
      {"PasswordWithEmbeddedCarriageReturn", {{"POSTGRES_PASS", "Hunter2-first\rHunter2-second"}}, {}, {"POSTGRES_PASS", "line break"}},
      {"PasswordFileUnreadable", {{"POSTGRES_PASS", std::nullopt}, {"POSTGRES_PASS_FILE", "/run/secrets/missing"}}, {}, {"POSTGRES_PASS_FILE", "/run/secrets/missing", "readable file"}},
      {"PasswordAliasFileUnreadable", {{"POSTGRES_PASS", std::nullopt}, {"POSTGRES_PASSWORD_FILE", "/nope"}}, {}, {"POSTGRES_PASSWORD_FILE", "/nope"}},
      {"PasswordFilePathEmpty", {{"POSTGRES_PASS", std::nullopt}, {"POSTGRES_PASS_FILE", ""}}, {}, {"POSTGRES_PASS_FILE", "path"}},
      {"PasswordFileEmpty", {{"POSTGRES_PASS", std::nullopt}, {"POSTGRES_PASS_FILE", "/s"}}, {{"/s", ""}}, {"POSTGRES_PASS_FILE", "empty"}},
      {"PasswordFileOnlyNewlines", {{"POSTGRES_PASS", std::nullopt}, {"POSTGRES_PASS_FILE", "/s"}}, {{"/s", "\n\r\n"}}, {"POSTGRES_PASS_FILE", "empty"}},
      {"PasswordFileWithTwoLines", {{"POSTGRES_PASS", std::nullopt}, {"POSTGRES_PASS_FILE", "/s"}}, {{"/s", "Hunter2-first\nHunter2-second\n"}}, {"POSTGRES_PASS_FILE", "line break"}},
      {"PasswordAndPasswordFileBothSet", {{"POSTGRES_PASS_FILE", "/s"}}, {{"/s", "Hunter2-file"}}, {"POSTGRES_PASS", "POSTGRES_PASS_FILE", "only one"}},
      {"PasswordAndAliasDiffer", {{"POSTGRES_PASSWORD", "Hunter2-other"}}, {}, {"POSTGRES_PASS", "POSTGRES_PASSWORD"}},
      {"PasswordAliasAndAliasFileBothSet", {{"POSTGRES_PASS", std::nullopt}, {"POSTGRES_PASSWORD", "Hunter2-other"}, {"POSTGRES_PASSWORD_FILE", "/s"}}, {{"/s", "Hunter2-file"}}, {"POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE"}},
      {"PasswordFileAndAliasFileBothSet", {{"POSTGRES_PASS", std::nullopt}, {"POSTGRES_PASS_FILE", "/a"}, {"POSTGRES_PASSWORD_FILE", "/b"}}, {{"/a", "Hunter2-a"}, {"/b", "Hunter2-b"}}, {"POSTGRES_PASS_FILE", "POSTGRES_PASSWORD_FILE"}},
      // replication role
      {"ReplicationUserWithoutPass", {{"REPLICATION_USER", "replicator"}}, {}, {"REPLICATION_USER", "REPLICATION_PASS"}},
      {"ReplicationPassWithoutUser", {{"REPLICATION_PASS", "Hunter2-repl"}}, {}, {"REPLICATION_PASS", "REPLICATION_USER"}},
      {"ReplicationPassFileWithoutUser", {{"REPLICATION_PASS_FILE", "/r"}}, {{"/r", "Hunter2-repl"}}, {"REPLICATION_PASS", "REPLICATION_USER"}},
      {"ReplicationPassEmpty", {{"REPLICATION_USER", "replicator"}, {"REPLICATION_PASS", ""}}, {}, {"REPLICATION_PASS", "empty"}},
      {"ReplicationPassWithNewline", {{"REPLICATION_USER", "replicator"}, {"REPLICATION_PASS", "Hunter2-a\nHunter2-b"}}, {}, {"REPLICATION_PASS", "line break"}},
      {"ReplicationPassFileUnreadable", {{"REPLICATION_USER", "replicator"}, {"REPLICATION_PASS_FILE", "/run/secrets/none"}}, {}, {"REPLICATION_PASS_FILE", "/run/secrets/none"}},
      {"ReplicationPassAndFileBothSet", {{"REPLICATION_USER", "replicator"}, {"REPLICATION_PASS", "Hunter2-repl"}, {"REPLICATION_PASS_FILE", "/r"}}, {{"/r", "Hunter2-file"}}, {"REPLICATION_PASS", "REPLICATION_PASS_FILE"}},
      {"ReplicationUserEqualsDefaultSuperuser", {{"REPLICATION_USER", "docker"}, {"REPLICATION_PASS", "Hunter2-repl"}}, {}, {"REPLICATION_USER", "POSTGRES_USER"}},
      {"ReplicationUserEqualsCustomSuperuser", {{"POSTGRES_USER", "admin"}, {"REPLICATION_USER", "admin"}, {"REPLICATION_PASS", "Hunter2-repl"}}, {}, {"REPLICATION_USER", "POSTGRES_USER"}},
      // names
      {"PostgresUserEmpty", {{"POSTGRES_USER", ""}}, {}, {"POSTGRES_USER", "not a valid name"}},
      {"PostgresUserStartsWithDigit", {{"POSTGRES_USER", "1docker"}}, {}, {"POSTGRES_USER", "1docker"}},
      {"PostgresUserWithSpace", {{"POSTGRES_USER", "my user"}}, {}, {"POSTGRES_USER"}},
      {"PostgresUserWithDoubleQuote", {{"POSTGRES_USER", "a\"b"}}, {}, {"POSTGRES_USER"}},
      {"PostgresUserWithSemicolon", {{"POSTGRES_USER", "a;drop"}}, {}, {"POSTGRES_USER"}},
      {"PostgresUserTooLong", {{"POSTGRES_USER", Long('u', 64)}}, {}, {"POSTGRES_USER", "1-63"}},
      {"ReplicationUserInvalid", {{"REPLICATION_USER", "repl user"}, {"REPLICATION_PASS", "Hunter2-repl"}}, {}, {"REPLICATION_USER"}},
      {"DbnameInvalidItem", {{"POSTGRES_DBNAME", "gis,bad name"}}, {}, {"POSTGRES_DBNAME", "bad name"}},
      {"DbnameEmpty", {{"POSTGRES_DBNAME", ""}}, {}, {"POSTGRES_DBNAME", "empty"}},
      {"DbnameOnlyCommas", {{"POSTGRES_DBNAME", " , ,"}}, {}, {"POSTGRES_DBNAME"}},
      {"DbAliasInvalid", {{"POSTGRES_DB", "bad name"}}, {}, {"POSTGRES_DB='bad name'"}},
      {"DbAliasEmpty", {{"POSTGRES_DB", ""}}, {}, {"POSTGRES_DB is empty"}},
      {"DbnameAndDbDiffer", {{"POSTGRES_DBNAME", "gis"}, {"POSTGRES_DB", "app"}}, {}, {"POSTGRES_DBNAME", "POSTGRES_DB", "different"}},
      {"ExtensionInvalid", {{"POSTGRES_MULTIPLE_EXTENSIONS", "postgis,bad ext"}}, {}, {"POSTGRES_MULTIPLE_EXTENSIONS", "bad ext"}},
      {"ExtensionWithQuote", {{"POSTGRES_MULTIPLE_EXTENSIONS", "x'y"}}, {}, {"POSTGRES_MULTIPLE_EXTENSIONS"}},
      // hosts
      {"ReplicateFromWithSpace", {{"REPLICATE_FROM", "pg master"}}, {}, {"REPLICATE_FROM", "host name or IP"}},
      {"ReplicateFromWithShellCharacters", {{"REPLICATE_FROM", "host;rm"}}, {}, {"REPLICATE_FROM"}},
      {"ReplicateFromWithQuote", {{"REPLICATE_FROM", "ho'st"}}, {}, {"REPLICATE_FROM"}},
      {"ReplicateFromTooLong", {{"REPLICATE_FROM", Long('h', 254)}}, {}, {"REPLICATE_FROM"}},
      {"ListenAddressesInvalid", {{"PGKEEPER_LISTEN_ADDRESSES", "127.0.0.1,bad addr!"}}, {}, {"PGKEEPER_LISTEN_ADDRESSES", "bad addr!"}},
      {"ListenAddressesEmpty", {{"PGKEEPER_LISTEN_ADDRESSES", ""}}, {}, {"PGKEEPER_LISTEN_ADDRESSES", "empty"}},
      // paths
      {"PgdataRelative", {{"PGDATA", "data"}}, {}, {"PGDATA", "absolute path"}},
      {"PgdataEmpty", {{"PGDATA", ""}}, {}, {"PGDATA"}},
      {"PgdataRoot", {{"PGDATA", "/"}}, {}, {"PGDATA", "below /"}},
      {"PgdataRootWithSlashes", {{"PGDATA", "///"}}, {}, {"PGDATA"}},
      {"PgdataWithQuote", {{"PGDATA", "/var/lib/it's"}}, {}, {"PGDATA"}},
      {"PgdataWithNewline", {{"PGDATA", "/var/lib\n/pg"}}, {}, {"PGDATA"}},
      {"PostgresUserWithNewline", {{"POSTGRES_USER", "a\nb"}}, {}, {"POSTGRES_USER='a\\nb'"}},
      {"ReplicatePortWithNewline", {{"REPLICATE_PORT", "54\n32"}}, {}, {"REPLICATE_PORT"}},
      {"PromoteWithNewline", {{"PROMOTE_MASTER", "yes\nno"}}, {}, {"PROMOTE_MASTER"}},
      {"AllowIpRangeWithNewline", {{"ALLOW_IP_RANGE", "10.0.0.0/8\n10.0.0.0/33"}}, {}, {"ALLOW_IP_RANGE"}},
      {"RunDirRelative", {{"PGKEEPER_RUN_DIR", "run"}}, {}, {"PGKEEPER_RUN_DIR", "absolute path"}},
      {"PgBinRelative", {{"PGKEEPER_PG_BIN", "bin"}}, {}, {"PGKEEPER_PG_BIN"}},
      {"InitdbDirRelative", {{"PGKEEPER_INITDB_DIR", "./init"}}, {}, {"PGKEEPER_INITDB_DIR"}},
      // sizes and rates
      {"WalKeepSizeWord", {{"WAL_KEEP_SIZE", "lots"}}, {}, {"WAL_KEEP_SIZE", "lots", "512MB"}},
      {"WalKeepSizeLowercaseUnit", {{"WAL_KEEP_SIZE", "512mb"}}, {}, {"WAL_KEEP_SIZE"}},
      {"WalKeepSizeNegative", {{"WAL_KEEP_SIZE", "-1"}}, {}, {"WAL_KEEP_SIZE"}},
      {"WalKeepSizeEmpty", {{"WAL_KEEP_SIZE", ""}}, {}, {"WAL_KEEP_SIZE"}},
      {"WalRetainMaxWord", {{"WAL_RETAIN_MAX", "plenty"}}, {}, {"WAL_RETAIN_MAX", "plenty", "unlimited"}},
      {"WalRetainMaxNegative", {{"WAL_RETAIN_MAX", "-2"}}, {}, {"WAL_RETAIN_MAX"}},
      {"WalRetainMaxEmpty", {{"WAL_RETAIN_MAX", ""}}, {}, {"WAL_RETAIN_MAX"}},
      {"WalRetainMaxLowercaseUnit", {{"WAL_RETAIN_MAX", "4gb"}}, {}, {"WAL_RETAIN_MAX"}},
      {"NodeNameWithSpace", {{"PGKEEPER_NODE_NAME", "my node"}}, {}, {"PGKEEPER_NODE_NAME", "my node"}},
      {"NodeNameWithQuote", {{"PGKEEPER_NODE_NAME", "a'b"}}, {}, {"PGKEEPER_NODE_NAME"}},
      {"NodeNameTooLong", {{"PGKEEPER_NODE_NAME", Long('n', 64)}}, {}, {"PGKEEPER_NODE_NAME", "63"}},
      {"CloneMaxRateWord", {{"PGKEEPER_CLONE_MAX_RATE", "fast"}}, {}, {"PGKEEPER_CLONE_MAX_RATE", "fast"}},
      {"CloneMaxRateTooLow", {{"PGKEEPER_CLONE_MAX_RATE", "31"}}, {}, {"PGKEEPER_CLONE_MAX_RATE"}},
      {"CloneMaxRateTooHigh", {{"PGKEEPER_CLONE_MAX_RATE", "1025M"}}, {}, {"PGKEEPER_CLONE_MAX_RATE"}},
      {"CloneMaxRateUnknownUnit", {{"PGKEEPER_CLONE_MAX_RATE", "5G"}}, {}, {"PGKEEPER_CLONE_MAX_RATE"}},
      {"PromoteForceWord", {{"PROMOTE_FORCE", "sure"}}, {}, {"PROMOTE_FORCE", "sure"}},
      {"PeersBadHost", {{"PGKEEPER_PEERS", "pg a"}}, {}, {"PGKEEPER_PEERS", "pg a"}},
      {"PeersBadPort", {{"PGKEEPER_PEERS", "pg-b:99999"}}, {}, {"PGKEEPER_PEERS", "pg-b:99999"}},
      {"SyncReplicantsWord", {{"SYNCHRONOUS_REPLICANTS", "all"}}, {}, {"SYNCHRONOUS_REPLICANTS", "all", "0"}},
      {"SyncReplicantsNegative", {{"SYNCHRONOUS_REPLICANTS", "-1"}}, {}, {"SYNCHRONOUS_REPLICANTS"}},
      {"SyncReplicantsTooMany", {{"SYNCHRONOUS_REPLICANTS", "11"}}, {}, {"SYNCHRONOUS_REPLICANTS", "10"}},
      {"SyncCommitOff", {{"SYNCHRONOUS_COMMIT", "off"}}, {}, {"SYNCHRONOUS_COMMIT", "off", "remote_apply"}},
      {"SyncCommitLocal", {{"SYNCHRONOUS_COMMIT", "local"}}, {}, {"SYNCHRONOUS_COMMIT"}},
      {"SyncModeWord", {{"SYNCHRONOUS_MODE", "relaxed"}}, {}, {"SYNCHRONOUS_MODE", "relaxed", "available"}},
  };
  return *cases;
}

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadValue : public ::testing::TestWithParam<BadCase> {
 protected:
  Env MakeEnv() const {
    Env env = WithPassword();
    for (const auto& [name, value] : GetParam().set) {
      if (value) {
        env[name] = *value;
      } else {
        env.erase(name);
      }
    }
    return env;
  }
  // Every secret in play: password variables and file contents, and their lines.
  std::vector<std::string> Secrets() const {
    std::vector<std::string> raw;
    for (const auto& [name, value] : MakeEnv()) {
      if (name.find("PASS") != std::string::npos && name.find("_FILE") == std::string::npos) {
        raw.push_back(value);
      }
    }
    for (const auto& [path, content] : GetParam().files) raw.push_back(content);
    std::vector<std::string> out;
    for (const auto& s : raw) {
      size_t start = 0;
      for (size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == '\n' || s[i] == '\r') {
          if (i - start >= 6) out.push_back(s.substr(start, i - start));
          start = i + 1;
        }
      }
    }
    return out;
  }
};

TEST_P(BadValue, IsAConfigErrorOfOneLineNamingTheVariable) {
  Config c;
  Status st = Parse(MakeEnv(), &c, GetParam().files);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ExitCode::kConfig);
  EXPECT_EQ(st.exit_code(), 3);
  for (const auto& word : GetParam().named) EXPECT_THAT(st.message(), HasSubstr(word));
  EXPECT_THAT(st.message(), Not(HasSubstr("\n")));
}

TEST_P(BadValue, NeverEchoesASecret) {
  Config c;
  Status st = Parse(MakeEnv(), &c, GetParam().files);
  ASSERT_FALSE(st.ok());
  for (const auto& secret : Secrets()) EXPECT_THAT(st.message(), Not(HasSubstr(secret)));
}

INSTANTIATE_TEST_SUITE_P(ParseConfig, BadValue, ::testing::ValuesIn(BadCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ParseConfig, EveryBadValueTableEntryHasAUniqueName) {
  std::map<std::string, int> seen;
  for (const auto& c : BadCases()) EXPECT_EQ(++seen[c.name], 1) << c.name;
}

// ---------------------------------------------------------------- process environment, files

TEST(EnvFromEnviron, SplitsAtTheFirstEqualsSignAndSkipsEntriesWithoutOne) {
  char a[] = "A=1";
  char b[] = "B=x=y";
  char c[] = "NOEQUALS";
  char d[] = "EMPTY=";
  char* envp[] = {a, b, c, d, nullptr};
  Env env = EnvFromEnviron(envp);
  EXPECT_EQ(env, (Env{{"A", "1"}, {"B", "x=y"}, {"EMPTY", ""}}));
}

TEST(EnvFromEnviron, NullEnvironmentIsEmpty) { EXPECT_TRUE(EnvFromEnviron(nullptr).empty()); }

TEST(ReadWholeFile, ReadsTheWholeContentAndFailsNamingAMissingPath) {
  char path[] = "/tmp/pgkeeper-config-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string content = std::string("line1\nline2\0tail", 16);
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  std::string out;
  EXPECT_TRUE(ReadWholeFile(path, &out).ok());
  EXPECT_EQ(out, content);
  unlink(path);

  Status st = ReadWholeFile(path, &out);
  EXPECT_EQ(st.code(), ExitCode::kSystem);
  EXPECT_THAT(st.message(), HasSubstr(path));
}

}  // namespace
}  // namespace pgkeeper

namespace pgkeeper {
namespace {

TEST(ParseConfig, RoleNamesStartingWithPgAreRefusedAsReserved) {
  for (const char* var : {"POSTGRES_USER", "REPLICATION_USER"}) {
    Env env = {{"POSTGRES_PASS", "pw"}, {var, "pg_admin"}, {"REPLICATION_PASS", "rp"}};
    Config c;
    Status st = ParseConfig(env, [](const std::string&, std::string*) { return Status::Ok(); }, &c);
    EXPECT_EQ(st.code(), ExitCode::kConfig) << var;
    EXPECT_THAT(st.message(), ::testing::HasSubstr(std::string(var) + "='pg_admin' starts with pg_"));
  }
}

}  // namespace
}  // namespace pgkeeper

// ---------------------------------------------------------------- HTTP API: port and address

namespace pgkeeper {
namespace {

TEST(ParseConfig, ApiListensOnPort8008OfTheFirstListenAddressByDefault) {
  Config c = ParseOk(WithPassword());
  EXPECT_EQ(c.api_port, 8008);
  EXPECT_EQ(c.api_listen, "*") << "like PostgreSQL's own listen_addresses";
}

TEST(ParseConfig, ApiPortAcceptsOneTo65535WithSpacesTrimmed) {
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_PORT", "9000"}})).api_port, 9000);
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_PORT", " 8080 "}})).api_port, 8080);
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_PORT", "1"}})).api_port, 1);
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_PORT", "65535"}})).api_port, 65535);
}

TEST(ParseConfig, ApiPortZeroTurnsTheApiOff) {
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_PORT", "0"}})).api_port, 0);
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_PORT", " 0 "}})).api_port, 0);
  // Off, it cannot clash with PostgreSQL's port.
  Config c = ParseOk(WithPassword({{"PGKEEPER_API_PORT", "0"}, {"PGPORT", "8008"}}));
  EXPECT_EQ(c.api_port, 0);
  EXPECT_EQ(c.port, 8008);
}

TEST(ParseConfig, ApiPortMayNotBePostgresOwnPort) {
  for (const Env& env : {Env{{"PGKEEPER_API_PORT", "5432"}},
                         Env{{"PGKEEPER_API_PORT", "6432"}, {"PGPORT", "6432"}},
                         Env{{"PGPORT", "8008"}}}) {  // the default API port
    Config c;
    Status st = Parse(WithPassword(env), &c);
    EXPECT_EQ(st.code(), ExitCode::kConfig);
    EXPECT_THAT(st.message(), HasSubstr("PGKEEPER_API_PORT="));
    EXPECT_THAT(st.message(), HasSubstr("PGPORT"));
    EXPECT_THAT(st.message(), HasSubstr("0 to turn the API off"));
    EXPECT_THAT(st.message(), Not(HasSubstr("\n")));
  }
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_PORT", "5433"}, {"PGPORT", "5432"}})).api_port, 5433);
}

TEST(ParseConfig, ApiListenTakesOneAddressOrStarWithSpacesTrimmed) {
  const std::pair<const char*, const char*> cases[] = {
      {"0.0.0.0", "0.0.0.0"}, {"127.0.0.1", "127.0.0.1"}, {" 10.0.0.7 ", "10.0.0.7"},
      {"*", "*"},             {"::1", "::1"},             {"pg-master.local", "pg-master.local"},
  };
  for (const auto& [value, want] : cases) {
    EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_LISTEN", value}})).api_listen, want) << value;
  }
}

TEST(ParseConfig, EmptyApiListenFollowsTheFirstListenAddress) {
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_LISTEN", ""}})).api_listen, "*");
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_API_LISTEN", "  "}})).api_listen, "*");
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_LISTEN_ADDRESSES", " 127.0.0.1, ::1"}})).api_listen,
            "127.0.0.1");
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_LISTEN_ADDRESSES", "10.0.0.2"},
                                  {"PGKEEPER_API_LISTEN", ""}}))
                .api_listen,
            "10.0.0.2");
  EXPECT_EQ(ParseOk(WithPassword({{"PGKEEPER_LISTEN_ADDRESSES", "10.0.0.2"},
                                  {"PGKEEPER_API_LISTEN", "127.0.0.1"}}))
                .api_listen,
            "127.0.0.1");
}

TEST(ParseConfig, BadApiPortOrListenIsAOneLineConfigErrorNamingTheVariable) {
  struct Case {
    Env env;
    std::vector<std::string> named;
  };
  const Case cases[] = {
      {{{"PGKEEPER_API_PORT", "abc"}}, {"PGKEEPER_API_PORT='abc'", "1 to 65535"}},
      {{{"PGKEEPER_API_PORT", ""}}, {"PGKEEPER_API_PORT=''"}},
      {{{"PGKEEPER_API_PORT", "65536"}}, {"PGKEEPER_API_PORT='65536'"}},
      {{{"PGKEEPER_API_PORT", "-1"}}, {"PGKEEPER_API_PORT='-1'"}},
      {{{"PGKEEPER_API_PORT", "00"}}, {"PGKEEPER_API_PORT='00'"}},
      {{{"PGKEEPER_API_PORT", "8008x"}}, {"PGKEEPER_API_PORT='8008x'"}},
      {{{"PGKEEPER_API_PORT", "80 08"}}, {"PGKEEPER_API_PORT"}},
      {{{"PGKEEPER_API_PORT", "80\n08"}}, {"PGKEEPER_API_PORT='80\\n08'"}},
      {{{"PGKEEPER_API_LISTEN", "bad addr!"}}, {"PGKEEPER_API_LISTEN='bad addr!'", "one host name or IP"}},
      {{{"PGKEEPER_API_LISTEN", "127.0.0.1,::1"}}, {"PGKEEPER_API_LISTEN='127.0.0.1,::1'"}},
      {{{"PGKEEPER_API_LISTEN", "host;rm"}}, {"PGKEEPER_API_LISTEN"}},
      {{{"PGKEEPER_API_LISTEN", "10.0.0.1/8"}}, {"PGKEEPER_API_LISTEN"}},
      {{{"PGKEEPER_API_LISTEN", "a\nb"}}, {"PGKEEPER_API_LISTEN"}},
      {{{"PGKEEPER_API_LISTEN", std::string(254, 'h')}}, {"PGKEEPER_API_LISTEN"}},
  };
  for (const auto& c : cases) {
    Config config;
    Status st = Parse(WithPassword(c.env), &config);
    std::string where = c.env.begin()->first + "='" + c.env.begin()->second + "'";
    ASSERT_FALSE(st.ok()) << where;
    EXPECT_EQ(st.code(), ExitCode::kConfig) << where;
    for (const auto& word : c.named) EXPECT_THAT(st.message(), HasSubstr(word)) << where;
    EXPECT_THAT(st.message(), Not(HasSubstr("\n"))) << where;
    EXPECT_THAT(st.message(), Not(HasSubstr(kSecret)));
  }
}

}  // namespace
}  // namespace pgkeeper

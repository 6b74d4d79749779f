// Master lifecycle against real PostgreSQL: first start, later starts,
// shutdown, interrupted initialisation, bad input, secrets.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

TEST(Master, FirstStartCreatesDatabasesDefaultExtensionsAndRunsInitScriptsOnce) {
  Scratch scratch;
  Node master(scratch, "master", {{"POSTGRES_DBNAME", "gis,other"}});
  master.UnsetEnv("POSTGRES_MULTIPLE_EXTENSIONS");  // the defaults, PostGIS included
  master.AddInitScript("01-table.sql", "CREATE TABLE from_init(x int); INSERT INTO from_init VALUES (42);\n");
  master.AddInitScript("02-count.sh", "echo ran >> '" + scratch.shared() + "/script-runs'\n");
  master.AddInitScript("03-readme.txt", "not a script\n");
  master.Start();
  master.WaitHealthy();
  EXPECT_EQ(master.Query("SELECT x FROM from_init"), "42");
  EXPECT_EQ(master.Query("SELECT count(*) FROM pg_database WHERE datname IN ('gis','other')"), "2");
  for (const char* db : {"gis", "other"}) {
    EXPECT_EQ(master.Query("SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension "
                           "WHERE extname <> 'plpgsql'", db),
              "hstore,pgrouting,postgis,postgis_raster,postgis_topology")
        << db;
  }
  EXPECT_EQ(master.Query("SELECT setting FROM pg_settings WHERE name = 'wal_level'"), "replica");
  EXPECT_EQ(master.Query("SHOW data_checksums"), "on");
  EXPECT_EQ(master.Query("SHOW server_encoding"), "UTF8");
  EXPECT_TRUE(master.LogContains("decision: initialise a new master"));
  EXPECT_EQ(master.Stop(), 0);

  master.Start();
  master.WaitHealthy();
  EXPECT_TRUE(master.LogContains("decision: start the master from its existing data"));
  EXPECT_EQ(master.Query("SELECT count(*) FROM from_init"), "1");
  EXPECT_EQ(ReadFile(scratch.shared() + "/script-runs"), "ran\n");
}

TEST(Master, LaterStartAppliesAChangedPassword) {
  Scratch scratch;
  Node master(scratch, "master");
  master.Start();
  master.WaitHealthy();
  EXPECT_EQ(master.Stop(), 0);
  master.SetEnv("POSTGRES_PASS", "a-new-password-123");
  master.Start();
  master.WaitHealthy();
  EXPECT_EQ(master.Query("SELECT 1"), "1");
  master.SetEnv("POSTGRES_PASS", kPassword);
  EXPECT_NE(master.Query("SELECT 1").find("password authentication failed"), std::string::npos);
}

TEST(Master, SigtermShutsDownCleanlySoTheNextStartNeedsNoRecovery) {
  Scratch scratch;
  Node master(scratch, "master");
  master.Start();
  master.WaitHealthy();
  EXPECT_EQ(master.Query("CREATE TABLE t AS SELECT generate_series(1, 1000) AS x"), "OK");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(master.Stop(SIGTERM, seconds(10)), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));  // Docker's grace period
  std::string control = "/usr/lib/postgresql/15/bin/pg_controldata '" + master.pgdata() +
                        "' | grep -q 'cluster state: *shut down$'";
  EXPECT_EQ(system(control.c_str()), 0);
  master.Start();
  master.WaitHealthy();
  EXPECT_FALSE(master.LogContains("not properly shut down"));
  EXPECT_FALSE(master.LogContains("automatic recovery"));
  EXPECT_EQ(master.Query("SELECT count(*) FROM t"), "1000");
}

TEST(Master, InterruptedFirstInitIsRedoneNotMistakenForComplete) {
  Scratch scratch;
  Node master(scratch, "master");
  master.AddInitScript("01-slow.sh", "touch '" + scratch.shared() + "/in-script'; exec sleep 600\n");
  master.Start();
  ASSERT_TRUE(WaitFor([&] { return FileExists(scratch.shared() + "/in-script"); }, seconds(120)))
      << master.Log();
  master.Kill();  // as if the container were killed mid-initialisation
  // Nothing looks like a finished master in PGDATA itself.
  EXPECT_FALSE(FileExists(master.pgdata() + "/PG_VERSION"));
  master.RemoveInitScript("01-slow.sh");
  // The orphaned temporary server dies with pgkeeper (parent-death signal);
  // wait for its socket lock to go before starting again.
  ASSERT_TRUE(WaitFor([&] { return !FileExists(master.run_dir() + "/.s.PGSQL." + std::to_string(master.port()) + ".lock"); }, seconds(30)));
  master.Start();
  master.WaitHealthy();
  EXPECT_TRUE(master.LogContains("remove incomplete build"));
  EXPECT_TRUE(master.LogContains("decision: initialise a new master"));
  EXPECT_EQ(master.Query("SELECT 1"), "1");
}

TEST(Master, BadValueIsOneLineNamingTheVariableWithConfigExitCode) {
  Scratch scratch;
  struct Case {
    std::string var, value;
  };
  for (const Case& c : std::vector<Case>{{"REPLICATE_PORT", "abc"},
                                         {"ALLOW_IP_RANGE", "10.0.0.0/33"},
                                         {"DESTROY_DATABASE_ON_RESTART", "maybe"},
                                         {"POSTGRES_PASS_FILE", "/nonexistent/secret"},
                                         {"PGPORT", "70000"}}) {
    Node node(scratch, "bad-" + c.var, {{c.var, c.value}});
    if (c.var == "POSTGRES_PASS_FILE") node.UnsetEnv("POSTGRES_PASS");
    mkdir(node.pgdata().c_str(), 0700);
    WriteFile(node.pgdata() + "/keep-me", "untouched");
    node.Start();
    EXPECT_EQ(node.Wait(seconds(10)), 3) << c.var;
    std::string log = node.Log();
    EXPECT_NE(log.find("configuration error: " + c.var), std::string::npos) << log;
    EXPECT_EQ(ReadFile(node.pgdata() + "/keep-me"), "untouched");
    // One error line (plus the harness' marker line).
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2) << log;
  }
  Node missing(scratch, "no-pass");
  missing.UnsetEnv("POSTGRES_PASS");
  missing.Start();
  EXPECT_EQ(missing.Wait(seconds(10)), 3);
  EXPECT_TRUE(missing.LogContains("POSTGRES_PASS is not set"));
}

// Every file under root that contains the secret must be unreadable by others.
void ExpectSecretOnlyInPrivateFiles(const std::string& root, const std::string& secret) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           root, std::filesystem::directory_options::skip_permission_denied)) {
    if (!entry.is_regular_file()) continue;
    if (entry.path().extension() == ".log") continue;  // checked separately
    std::string content = ReadFile(entry.path());
    if (content.find(secret) == std::string::npos) continue;
    struct stat st;
    ASSERT_EQ(stat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u) << entry.path() << " holds the secret and is readable by others";
  }
}

TEST(Master, SecretsStayOutOfArgvLogsAndWorldReadableFiles) {
  Scratch scratch;
  std::string secret_file = scratch.path() + "/secret";
  WriteFile(secret_file, std::string(kPassword) + "\n");
  chmod(secret_file.c_str(), 0644);
  Node master(scratch, "master", {{"POSTGRES_PASS_FILE", secret_file}});
  master.UnsetEnv("POSTGRES_PASS");
  master.Start();
  master.WaitHealthy();
  Node replicant(scratch, "replicant", ReplicantOf(master));
  replicant.SetEnv("POSTGRES_PASS", kPassword);
  replicant.Start();
  replicant.WaitHealthy();
  // No process on the machine has the password in its command line.
  for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
    std::string cmdline = ReadFile(proc.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    EXPECT_EQ(cmdline.find(kPassword), std::string::npos) << proc.path() << ": " << cmdline;
  }
  EXPECT_EQ(master.Log().find(kPassword), std::string::npos);
  EXPECT_EQ(replicant.Log().find(kPassword), std::string::npos);
  // The password file the replicant streams with is private.
  struct stat st;
  ASSERT_EQ(stat((replicant.run_dir() + "/pgpass").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ExpectSecretOnlyInPrivateFiles(scratch.path() + "/master", kPassword);
  ExpectSecretOnlyInPrivateFiles(scratch.path() + "/replicant", kPassword);
}

}  // namespace
}  // namespace pgkeeper::testing

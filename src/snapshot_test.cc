#include "snapshot.h"
#include "snapshot_fixtures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "test_util.h"

namespace pgkeeper {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using fixtures::kMB;
using fixtures::kNow;

// Every phase pgkeeper writes (README, "Health"), and one it does not know.
const char* const kPhases[] = {"starting", "initialising", "waiting-for-master", "cloning",
                               "promoting", "running",      "streaming",          "standby",
                               "stalled",   "stopping",     "stopped",            "refused",
                               "failed",    "rejoining",    "restarting",         "unknown"};

const char* const kRoles[] = {"master", "replicant", "promoted", "cloning", "starting", "stopped"};

// ---------------------------------------------------------------- sample snapshots

Snapshot Master() {
  Snapshot s = fixtures::Master();
  s.replicants = {{"pg-replicant-1", "172.18.0.3", "streaming", 0, 0, "async", 0.2},
                  {"pg-replicant-2", "172.18.0.4", "catchup", 3 * kMB, 1.5, "async", 0.2}};
  return s;
}

Snapshot StreamingReplicant() { return fixtures::Streaming(72, 0.25); }

// The master with a slot per replicant, and two slots of replicants that are
// away: one within WAL_RETAIN_MAX, one invalidated for exceeding it.
Snapshot MasterWithSlots() {
  Snapshot s = Master();
  s.slots = {{"pg_replicant_1", true, "pg-replicant-1", 0, "reserved"},
             {"pg_replicant_2", true, "pg-replicant-2", 3 * kMB, "reserved"},
             {"pg_replicant_3", false, "", 200 * kMB, "extended"},
             {"pg_replicant_4", false, "", -1, "lost"}};
  return s;
}

Snapshot Cloning() { return fixtures::Cloning(); }

Snapshot Stalled() { return fixtures::Stalled(); }
Snapshot DiskFull() { return fixtures::DiskFull(); }

// ---------------------------------------------------------------- role(), serving()

TEST(SnapshotRole, FollowsThePhaseThenPostgresThenRecoveryThenHistory) {
  // Phases whose role does not depend on postgres.
  const std::map<std::string, std::string> fixed = {
      {"waiting-for-master", "cloning"}, {"cloning", "cloning"},   {"starting", "starting"},
      {"rejoining", "cloning"},
      {"initialising", "starting"},      {"promoting", "starting"},
      {"stopping", "stopped"},           {"stopped", "stopped"},    {"failed", "stopped"},
      {"restarting", "stopped"}};
  int combinations = 0;
  for (const char* phase : kPhases) {
    for (bool up : {false, true}) {
      for (bool recovery : {false, true}) {
        for (bool promoted : {false, true}) {
          for (bool configured : {false, true}) {
            Snapshot s;
            s.keeper.phase = phase;
            s.postgres_up = up;
            s.in_recovery = recovery;
            s.keeper.promoted = promoted;
            s.keeper.configured_replicant = configured;
            std::string want;
            if (fixed.count(phase)) {
              want = fixed.at(phase);
            } else if (!up) {
              want = "stopped";
            } else if (recovery) {
              want = "replicant";
            } else {
              want = promoted || configured ? "promoted" : "master";
            }
            EXPECT_EQ(s.role(), want) << phase << " up=" << up << " recovery=" << recovery
                                      << " promoted=" << promoted << " configured=" << configured;
            ++combinations;
          }
        }
      }
    }
  }
  EXPECT_EQ(combinations, 16 * 16);
}

TEST(SnapshotRole, ReadsAsTheStatusTableShowsIt) {
  EXPECT_EQ(Master().role(), "master");
  EXPECT_EQ(StreamingReplicant().role(), "replicant");
  EXPECT_EQ(Stalled().role(), "replicant");
  EXPECT_EQ(Cloning().role(), "cloning");
  Snapshot promoted = Master();
  promoted.keeper.promoted = true;
  EXPECT_EQ(promoted.role(), "promoted");
  Snapshot down = Master();
  down.postgres_up = false;
  EXPECT_EQ(down.role(), "stopped");
  EXPECT_EQ(Snapshot().role(), "starting") << "a default snapshot is a node that is starting";
}

TEST(SnapshotServing, IsTrueOnlyWhenPostgresIsUpAsMasterPromotedOrReplicant) {
  for (const char* phase : kPhases) {
    for (bool up : {false, true}) {
      for (bool recovery : {false, true}) {
        for (bool promoted : {false, true}) {
          Snapshot s;
          s.keeper.phase = phase;
          s.postgres_up = up;
          s.in_recovery = recovery;
          s.keeper.promoted = promoted;
          std::string role = s.role();
          bool want = up && (role == "master" || role == "promoted" || role == "replicant");
          EXPECT_EQ(s.serving(), want) << phase << " up=" << up << " recovery=" << recovery;
        }
      }
    }
  }
  EXPECT_TRUE(Master().serving());
  EXPECT_TRUE(StreamingReplicant().serving());
  EXPECT_TRUE(Stalled().serving()) << "a stalled replicant still answers reads";
  EXPECT_FALSE(Cloning().serving());
  Snapshot cloning_with_postgres = Cloning();
  cloning_with_postgres.postgres_up = true;
  EXPECT_FALSE(cloning_with_postgres.serving());
}

// ---------------------------------------------------------------- StandbyPhase

TEST(StandbyPhase, AllEightCombinations) {
  struct Case {
    bool in_recovery, streaming, wal_missing;
    const char* phase;
  };
  const Case cases[] = {
      {false, false, false, "running"},  {false, false, true, "running"},
      {false, true, false, "running"},   {false, true, true, "running"},
      {true, false, false, "standby"},   {true, false, true, "stalled"},
      {true, true, false, "streaming"},  {true, true, true, "stalled"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(StandbyPhase(c.in_recovery, c.streaming, c.wal_missing), c.phase)
        << "recovery=" << c.in_recovery << " streaming=" << c.streaming
        << " wal_missing=" << c.wal_missing;
  }
}

// ---------------------------------------------------------------- KeeperState JSON

KeeperState FullState() {
  KeeperState k;
  k.pid = 4242;
  k.phase = "cloning";
  k.message = "copying \"pg-master\":5432 with pg_basebackup\n\tsecond line \\ é";
  k.configured_replicant = true;
  k.promoted = true;
  k.master = "pg-master:5432";
  k.clone = {true, 350 * kMB, 780 * kMB, 54525952, 8};
  k.wal_missing = "FATAL:  requested WAL segment 000000010000000000000003 has already been removed";
  return k;
}

void ExpectSameState(const KeeperState& a, const KeeperState& b) {
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.phase, b.phase);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.configured_replicant, b.configured_replicant);
  EXPECT_EQ(a.promoted, b.promoted);
  EXPECT_EQ(a.master, b.master);
  EXPECT_EQ(a.wal_missing, b.wal_missing);
  EXPECT_EQ(a.clone.active, b.clone.active);
  EXPECT_EQ(a.clone.done_bytes, b.clone.done_bytes);
  EXPECT_EQ(a.clone.total_bytes, b.clone.total_bytes);
  EXPECT_DOUBLE_EQ(a.clone.rate_bytes_per_s, b.clone.rate_bytes_per_s);
  EXPECT_DOUBLE_EQ(a.clone.eta_seconds, b.clone.eta_seconds);
}

TEST(KeeperStateJson, RoundTripsEveryFieldIncludingCloneProgress) {
  KeeperState in = FullState();
  std::string text = KeeperStateToJson(in);
  EXPECT_EQ(text.find('\n'), std::string::npos) << "the status file holds one line";
  KeeperState out;
  ASSERT_TRUE(KeeperStateFromJson(text, &out)) << text;
  ExpectSameState(out, in);
}

TEST(KeeperStateJson, UnknownEtaIsWrittenAsNullAndReadBackAsUnknown) {
  KeeperState in = FullState();
  in.clone.eta_seconds = -1;
  std::string text = KeeperStateToJson(in);
  EXPECT_TRUE(json::parse(text)["clone"]["eta_seconds"].is_null()) << text;
  KeeperState out;
  out.clone.eta_seconds = 99;
  ASSERT_TRUE(KeeperStateFromJson(text, &out));
  EXPECT_EQ(out.clone.eta_seconds, -1);
}

TEST(KeeperStateJson, DefaultStateRoundTrips) {
  KeeperState in;
  KeeperState out;
  out.phase = "something else";
  out.pid = 3;
  ASSERT_TRUE(KeeperStateFromJson(KeeperStateToJson(in), &out));
  ExpectSameState(out, in);
}

TEST(KeeperStateJson, RateAndEtaAreStoredInWholeUnits) {
  KeeperState in = FullState();
  in.clone.rate_bytes_per_s = 1000.4;
  in.clone.eta_seconds = 7.6;
  KeeperState out;
  ASSERT_TRUE(KeeperStateFromJson(KeeperStateToJson(in), &out));
  EXPECT_EQ(out.clone.rate_bytes_per_s, 1000);
  EXPECT_EQ(out.clone.eta_seconds, 8);
}

TEST(KeeperStateJson, MalformedInputIsRefusedWithoutThrowing) {
  static const char kNul[] = "{\"phase\":\"run\0ning\"}";
  for (const std::string& text : std::vector<std::string>{
       "", " ", "not json", "{", "{\"pid\":", "[]", "[1,2]", "42", "\"running\"", "null", "true",
        "{\"pid\":\"seven\"}", "{\"phase\":7}", "{\"phase\":null}", "{\"message\":[]}",
        "{\"configured_replicant\":\"yes\"}", "{\"promoted\":{}}", "{\"master\":false}",
        "{\"wal_missing\":1}", "{\"clone\":{\"active\":\"yes\"}}",
        "{\"clone\":{\"done_bytes\":\"lots\"}}", "{\"clone\":{\"total_bytes\":null}}",
        "{\"clone\":{\"rate_bytes_per_second\":[]}}", std::string(kNul, sizeof(kNul) - 1),
        "{\"phase\":\"\xff\xfe\"}"}) {
    KeeperState k;
    bool ok = true;
    EXPECT_NO_THROW(ok = KeeperStateFromJson(text, &k)) << text;
    EXPECT_FALSE(ok) << "'" << text << "'";
  }
}

TEST(KeeperStateJson, MissingFieldsTakeDefaults) {
  KeeperState k;
  ASSERT_TRUE(KeeperStateFromJson("{}", &k));
  EXPECT_EQ(k.pid, 0);
  EXPECT_EQ(k.phase, "unknown") << "a status file without a phase says so";
  EXPECT_EQ(k.message, "");
  EXPECT_FALSE(k.configured_replicant);
  EXPECT_FALSE(k.promoted);
  EXPECT_EQ(k.master, "");
  EXPECT_EQ(k.wal_missing, "");
  EXPECT_FALSE(k.clone.active);
  EXPECT_EQ(k.clone.eta_seconds, -1);

  ASSERT_TRUE(KeeperStateFromJson(R"({"pid": 12, "phase": "streaming", "future_field": [1]})", &k));
  EXPECT_EQ(k.pid, 12);
  EXPECT_EQ(k.phase, "streaming");
}

TEST(KeeperStateJson, PartialOrOddCloneObjectsTakeDefaultsWithoutThrowing) {
  struct Case {
    const char* text;
    bool active;
    int64_t done;
    double eta;
  };
  const Case cases[] = {
      {R"({"clone": {}})", false, 0, -1},
      {R"({"clone": {"active": true}})", true, 0, -1},
      {R"({"clone": {"active": true, "done_bytes": 5}})", true, 5, -1},
      {R"({"clone": {"eta_seconds": null}})", false, 0, -1},
      {R"({"clone": {"eta_seconds": "soon"}})", false, 0, -1},
      {R"({"clone": {"eta_seconds": 12}})", false, 0, 12},
      {R"({"clone": {"eta_seconds": 1.5}})", false, 0, 1.5},
      {R"({"clone": "cloning"})", false, 0, -1},
      {R"({"clone": null})", false, 0, -1},
      {R"({"clone": [1, 2]})", false, 0, -1},
  };
  for (const auto& c : cases) {
    KeeperState k;
    bool ok = false;
    EXPECT_NO_THROW(ok = KeeperStateFromJson(c.text, &k)) << c.text;
    EXPECT_TRUE(ok) << c.text;
    EXPECT_EQ(k.clone.active, c.active) << c.text;
    EXPECT_EQ(k.clone.done_bytes, c.done) << c.text;
    EXPECT_DOUBLE_EQ(k.clone.eta_seconds, c.eta) << c.text;
  }
}

TEST(KeeperStateJson, TextThatIsNotUtf8IsWrittenWithoutThrowing) {
  // A postgres line in a Latin-1 locale, or a path with stray bytes.
  KeeperState in = FullState();
  in.wal_missing = "FATAL:  \xe9l\xe9ment manquant";
  in.message = "bad \xff byte";
  std::string text;
  ASSERT_NO_THROW(text = KeeperStateToJson(in));
  KeeperState out;
  ASSERT_TRUE(KeeperStateFromJson(text, &out)) << text;
  EXPECT_EQ(out.phase, "cloning");
  EXPECT_THAT(out.wal_missing, StartsWith("FATAL:  "));
  EXPECT_THAT(out.message, StartsWith("bad "));

  Snapshot s = Stalled();
  s.keeper = in;
  s.replicants = {{"app\xc3", "10.0.0.1", "streaming", 0, 0, "async", 0.2}};
  ASSERT_NO_THROW(text = ToJson(s));
  EXPECT_FALSE(json::parse(text, nullptr, false).is_discarded());
}

// ---------------------------------------------------------------- ToJson

TEST(ToJson, MasterCarriesItsFactsAndReplicants) {
  json j = json::parse(ToJson(Master()));
  EXPECT_EQ(j["role"], "master");
  EXPECT_EQ(j["phase"], "running");
  EXPECT_EQ(j["message"], "master accepting reads and writes");
  EXPECT_EQ(j["postgres_up"], true);
  EXPECT_EQ(j["in_recovery"], false);
  EXPECT_EQ(j["server_version"], "15.6");
  EXPECT_EQ(j["timeline"], 1);
  EXPECT_EQ(j["current_lsn"], "0/3000148");
  EXPECT_TRUE(j["received_lsn"].is_null());
  EXPECT_TRUE(j["replayed_lsn"].is_null());
  EXPECT_TRUE(j["master"].is_null());
  EXPECT_EQ(j["streaming"], false);
  EXPECT_TRUE(j["lag_bytes"].is_null());
  EXPECT_TRUE(j["lag_seconds"].is_null());
  ASSERT_EQ(j["replicants"].size(), 2u);
  EXPECT_EQ(j["replicants"][0],
            json({{"name", "pg-replicant-1"}, {"address", "172.18.0.3"}, {"state", "streaming"},
                  {"lag_bytes", 0}, {"lag_seconds", 0.0}, {"sync_state", "async"}}));
  EXPECT_EQ(j["replicants"][1]["lag_bytes"], 3 * kMB);
  EXPECT_EQ(j["replicants"][1]["lag_seconds"], 1.5);
  EXPECT_EQ(j["clone"]["active"], false);
  EXPECT_TRUE(j["clone"]["eta_seconds"].is_null());
  EXPECT_EQ(j["pgkeeper_pid"], 7);
  EXPECT_EQ(j["taken_at_ms"], kNow - 250);
}

TEST(ToJson, ReplicantCarriesLsnsLagAndMaster) {
  json j = json::parse(ToJson(StreamingReplicant()));
  EXPECT_EQ(j["role"], "replicant");
  EXPECT_EQ(j["in_recovery"], true);
  EXPECT_TRUE(j["current_lsn"].is_null());
  EXPECT_EQ(j["received_lsn"], "0/3000148");
  EXPECT_EQ(j["replayed_lsn"], "0/3000100");
  EXPECT_EQ(j["master"], "pg-master:5432");
  EXPECT_EQ(j["streaming"], true);
  EXPECT_EQ(j["lag_bytes"], 72);
  EXPECT_EQ(j["lag_seconds"], 0.25);
  EXPECT_EQ(j["replicants"], json::array());
}

TEST(ToJson, UnknownFactsAreNullNotZeroOrEmpty) {
  Snapshot s = Cloning();
  json j = json::parse(ToJson(s));
  EXPECT_EQ(j["role"], "cloning");
  EXPECT_EQ(j["postgres_up"], false);
  for (const char* key : {"server_version", "timeline", "current_lsn", "received_lsn",
                          "replayed_lsn", "lag_bytes", "lag_seconds"}) {
    EXPECT_TRUE(j[key].is_null()) << key << " = " << j[key];
  }
  Snapshot r = StreamingReplicant();
  r.replicants = {{"x", "local", "backup", -1, -1, "async", 0.2}};
  j = json::parse(ToJson(r));
  EXPECT_TRUE(j["replicants"][0]["lag_bytes"].is_null());
  EXPECT_TRUE(j["replicants"][0]["lag_seconds"].is_null());
}

TEST(ToJson, CloneProgressIsRoundedForPeople) {
  json c = json::parse(ToJson(Cloning()))["clone"];
  EXPECT_EQ(c["active"], true);
  EXPECT_EQ(c["done_bytes"], 350 * kMB);
  EXPECT_EQ(c["total_bytes"], 780 * kMB);
  EXPECT_DOUBLE_EQ(c["percent"].get<double>(), 44.9);
  EXPECT_DOUBLE_EQ(c["rate_bytes_per_second"].get<double>(), 52.0 * kMB);
  EXPECT_DOUBLE_EQ(c["eta_seconds"].get<double>(), 8);
}

TEST(ToJson, EveryDocumentedKeyIsPresentForEveryRole) {
  for (const Snapshot& s : {Master(), MasterWithSlots(), StreamingReplicant(), Cloning(), Stalled(), DiskFull(), Snapshot()}) {
    json j = json::parse(ToJson(s));
    for (const char* key : {"role", "phase", "message", "postgres_up", "in_recovery",
                            "server_version", "timeline", "current_lsn", "received_lsn",
                            "replayed_lsn", "master", "streaming", "lag_bytes", "lag_seconds",
                            "replicants", "slots", "clone", "disk", "pgkeeper_pid", "taken_at_ms"}) {
      EXPECT_TRUE(j.contains(key)) << s.role() << " lacks " << key;
    }
  }
}

TEST(ToJson, SlotsCarryTheirReplicantActivityAndRetainedWal) {
  json j = json::parse(ToJson(MasterWithSlots()));
  ASSERT_EQ(j["slots"].size(), 4u);
  EXPECT_EQ(j["slots"][0], json({{"name", "pg_replicant_1"}, {"active", true},
                                 {"replicant", "pg-replicant-1"}, {"retained_bytes", 0},
                                 {"wal_status", "reserved"}}));
  EXPECT_EQ(j["slots"][2]["replicant"], nullptr);
  EXPECT_EQ(j["slots"][2]["retained_bytes"], 200 * kMB);
  EXPECT_EQ(j["slots"][3]["retained_bytes"], nullptr);
  EXPECT_EQ(j["slots"][3]["wal_status"], "lost");
  EXPECT_EQ(json::parse(ToJson(Master()))["slots"], json::array());
}

// ---------------------------------------------------------------- Publish

TEST(ToJson, TheDiskHoldingPgdataIsShownWhenMeasured) {
  json full = json::parse(ToJson(DiskFull()));
  EXPECT_EQ(full["phase"], "disk-full");
  EXPECT_EQ(full["disk"]["free_bytes"], 4096);
  EXPECT_EQ(full["disk"]["total_bytes"], 512 * kMB);
  EXPECT_TRUE(json::parse(ToJson(Snapshot()))["disk"].is_null());
}

TEST(Publish, KeepsTheSnapshotWithItsJsonAndANewline) {
  for (const Snapshot& s : {Master(), StreamingReplicant(), Cloning()}) {
    PublishedSnapshot p = Publish(s);
    EXPECT_EQ(p.json, ToJson(s) + "\n");
    EXPECT_EQ(ToJson(p.snapshot), ToJson(s));
    EXPECT_EQ(p.snapshot.taken_at_ms, s.taken_at_ms);
  }
}

// ---------------------------------------------------------------- RenderStatusTable

TEST(RenderStatusTable, MasterListsEachConnectedReplicantWithItsLag) {
  std::string t = RenderStatusTable(Master());
  EXPECT_THAT(t, StartsWith("role        master\n"));
  EXPECT_THAT(t, HasSubstr("phase       running: master accepting reads and writes\n"));
  EXPECT_THAT(t, HasSubstr("postgres    15.6 (accepting connections)\n"));
  EXPECT_THAT(t, HasSubstr("timeline    1\n"));
  EXPECT_THAT(t, HasSubstr("lsn         current 0/3000148\n"));
  EXPECT_THAT(t, HasSubstr("replicants  2\n"));
  EXPECT_THAT(t, HasSubstr("  pg-replicant-1      172.18.0.3        streaming  0 B, 0.0 s\n"));
  EXPECT_THAT(t, HasSubstr("  pg-replicant-2      172.18.0.4        catchup    3.0 MB, 1.5 s\n"));
  EXPECT_THAT(t, Not(HasSubstr("lag ")));
  EXPECT_THAT(t, Not(HasSubstr("clone")));
}

TEST(RenderStatusTable, SlotsAreListedWithActivityStatusAndRetainedWal) {
  std::string t = RenderStatusTable(MasterWithSlots());
  EXPECT_THAT(t, HasSubstr("slots       4\n"));
  EXPECT_THAT(t, HasSubstr("  pg_replicant_1      active            reserved   holds 0 B\n"));
  EXPECT_THAT(t, HasSubstr("  pg_replicant_3      inactive          extended   holds 200.0 MB\n"));
  EXPECT_THAT(t, HasSubstr("  pg_replicant_4      inactive          lost       holds -\n"));
  EXPECT_THAT(RenderStatusTable(Master()), Not(HasSubstr("slots")));
}

TEST(RenderStatusTable, ACascadingReplicantListsItsOwnReplicants) {
  Snapshot s = StreamingReplicant();
  EXPECT_THAT(RenderStatusTable(s), Not(HasSubstr("replicants")));
  s.replicants = {{"pg-cascade", "172.18.0.5", "streaming", 0, 0, "async", 0.2}};
  std::string t = RenderStatusTable(s);
  EXPECT_THAT(t, HasSubstr("master      pg-master:5432 (streaming)\n"));
  EXPECT_THAT(t, HasSubstr("replicants  1\n"));
  EXPECT_THAT(t, HasSubstr("  pg-cascade          172.18.0.5        streaming  0 B, 0.0 s\n"));
}

TEST(RenderStatusTable, MasterWithoutReplicantsSaysZero) {
  Snapshot s = Master();
  s.replicants.clear();
  EXPECT_THAT(RenderStatusTable(s), HasSubstr("replicants  0\n"));
}

TEST(RenderStatusTable, StreamingReplicantShowsItsMasterLsnsAndLag) {
  std::string t = RenderStatusTable(StreamingReplicant());
  EXPECT_THAT(t, StartsWith("role        replicant\n"));
  EXPECT_THAT(t, HasSubstr("master      pg-master:5432 (streaming)\n"));
  EXPECT_THAT(t, HasSubstr("lsn         received 0/3000148, replayed 0/3000100\n"));
  EXPECT_THAT(t, HasSubstr("lag         72 B, 0.2 s\n"));
  EXPECT_THAT(t, Not(HasSubstr("replicants")));
}

TEST(RenderStatusTable, ReplicantWhoseMasterIsGoneSaysNotStreaming) {
  Snapshot s = StreamingReplicant();
  s.keeper.phase = "standby";
  s.streaming = false;
  s.lag_bytes = -1;
  s.lag_seconds = -1;
  s.received_lsn = "";
  std::string t = RenderStatusTable(s);
  EXPECT_THAT(t, HasSubstr("master      pg-master:5432 (not streaming)\n"));
  EXPECT_THAT(t, HasSubstr("lsn         received -, replayed 0/3000100\n"));
  EXPECT_THAT(t, HasSubstr("lag         -, -\n"));
}

TEST(RenderStatusTable, CloningShowsPercentSizeAndRate) {
  std::string t = RenderStatusTable(Cloning());
  EXPECT_THAT(t, StartsWith("role        cloning\n"));
  EXPECT_THAT(t, HasSubstr("phase       cloning: copying pg-master:5432 with pg_basebackup\n"));
  EXPECT_THAT(t, HasSubstr("postgres    not running\n"));
  EXPECT_THAT(t, HasSubstr("clone       44.9% of 780.0 MB at 52.0 MB/s\n"));
  EXPECT_THAT(t, Not(HasSubstr("timeline")));
  EXPECT_THAT(t, Not(HasSubstr("replicants")));
}

TEST(RenderStatusTable, StalledShowsThePostgresLineAsTheProblem) {
  Snapshot s = Stalled();
  std::string t = RenderStatusTable(s);
  EXPECT_THAT(t, HasSubstr("phase       stalled: cannot resume"));
  EXPECT_THAT(t, HasSubstr("problem     " + s.keeper.wal_missing + "\n"));
}

TEST(RenderStatusTable, AFullDiskShowsThePhaseWithWhatToDoAndTheRoomLeft) {
  std::string t = RenderStatusTable(DiskFull());
  EXPECT_THAT(t, HasSubstr("phase       disk-full: the disk holding /var/lib/postgresql/data is full"));
  EXPECT_THAT(t, HasSubstr("disk        4.0 kB free of 512.0 MB\n"));
  EXPECT_THAT(RenderStatusTable(Master()), Not(HasSubstr("disk ")));
}

TEST(RenderStatusTable, EveryLineIsKeyThenValue) {
  for (const Snapshot& s : {Master(), MasterWithSlots(), StreamingReplicant(), Cloning(), Stalled(), DiskFull(), Snapshot()}) {
    std::istringstream in(RenderStatusTable(s));
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
      ++lines;
      EXPECT_TRUE(std::regex_match(line, std::regex("([a-z]+ +\\S.*|  \\S.*)"))) << "'" << line << "'";
    }
    EXPECT_GE(lines, 3);
  }
}

// ---------------------------------------------------------------- FormatBytes

TEST(FormatBytes, UsesWholeBytesThenOneDecimalIn1024Steps) {
  const std::pair<int64_t, const char*> cases[] = {
      {-1, "-"},
      {-5000, "-"},
      {0, "0 B"},
      {1, "1 B"},
      {1023, "1023 B"},
      {1024, "1.0 kB"},
      {1536, "1.5 kB"},
      {10 * 1024, "10.0 kB"},
      {kMB, "1.0 MB"},
      {16 * kMB, "16.0 MB"},
      {780 * kMB, "780.0 MB"},
      {1024 * kMB, "1.0 GB"},
      {1536 * kMB, "1.5 GB"},
      {1024LL * 1024 * kMB, "1.0 TB"},
      {1024LL * 1024 * 1024 * kMB, "1024.0 TB"},
      {INT64_MAX, "8388608.0 TB"},
  };
  for (const auto& [bytes, text] : cases) EXPECT_EQ(FormatBytes(bytes), text) << bytes;
}

// ---------------------------------------------------------------- RenderMetrics

// Checks text against the Prometheus text exposition format 0.0.4; returns
// every problem found, one per entry.
std::vector<std::string> ValidatePrometheusText(const std::string& text) {
  std::vector<std::string> errors;
  auto err = [&](int n, const std::string& what, const std::string& line) {
    errors.push_back("line " + std::to_string(n) + ": " + what + ": '" + line + "'");
  };
  if (text.empty() || text.back() != '\n') errors.push_back("text does not end with a line feed");
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");
  static const std::regex kValue(
      "[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?|NaN|[-+]?Inf");
  static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary",
                                               "untyped"};
  std::map<std::string, int> typed, helped;  // family -> line
  std::set<std::string> finished;            // families whose group of lines has ended
  std::set<std::string> series;
  std::set<std::string> sampled;  // families with a sample so far
  std::string current;  // the family of the previous line
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    std::string family;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name;
      words >> hash >> keyword >> name;
      if (hash != "#") {
        err(n, "a comment starts with '# '", line);
        continue;
      }
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      if (!std::regex_match(name, kName)) {
        err(n, "bad metric name", line);
        continue;
      }
      family = name;
      std::string rest = line.substr(std::min(line.size(), 2 + keyword.size() + 1 + name.size()));
      if (keyword == "TYPE") {
        if (typed.count(name)) err(n, "second TYPE for " + name, line);
        typed[name] = n;
        if (rest.empty() || rest[0] != ' ' || !kTypes.count(rest.substr(1))) err(n, "bad type", line);
        if (sampled.count(name)) err(n, "TYPE after samples of " + name, line);
      } else {
        if (helped.count(name)) err(n, "second HELP for " + name, line);
        helped[name] = n;
        for (size_t i = 0; i + 1 < rest.size(); ++i) {
          if (rest[i] == '\\') {
            if (rest[i + 1] != '\\' && rest[i + 1] != 'n') err(n, "bad escape in HELP", line);
            ++i;
          }
        }
        if (!rest.empty() && rest.back() == '\\' && (rest.size() < 2 || rest[rest.size() - 2] != '\\')) {
          err(n, "HELP ends in a lone backslash", line);
        }
      }
    } else {
      // name{labels} value [timestamp]
      size_t i = 0;
      while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
      std::string name = line.substr(0, i);
      if (!std::regex_match(name, kName)) {
        err(n, "bad metric name", line);
        continue;
      }
      family = name;
      std::string labels;
      std::set<std::string> label_names;
      if (i < line.size() && line[i] == '{') {
        ++i;
        bool closed = false;
        while (i < line.size()) {
          if (line[i] == '}') {
            closed = true;
            ++i;
            break;
          }
          size_t eq = line.find('=', i);
          if (eq == std::string::npos) break;
          std::string label = line.substr(i, eq - i);
          if (!std::regex_match(label, kLabelName)) err(n, "bad label name '" + label + "'", line);
          if (!label_names.insert(label).second) err(n, "label " + label + " twice", line);
          i = eq + 1;
          if (i >= line.size() || line[i] != '"') {
            err(n, "label value not quoted", line);
            break;
          }
          ++i;
          std::string value;
          bool ended = false;
          while (i < line.size()) {
            char c = line[i++];
            if (c == '"') {
              ended = true;
              break;
            }
            if (c == '\\') {
              if (i >= line.size()) break;
              char e = line[i++];
              if (e != '\\' && e != '"' && e != 'n') err(n, "bad escape in a label value", line);
            }
            value.push_back(c);
          }
          if (!ended) {
            err(n, "unterminated label value", line);
            break;
          }
          labels += label + "=" + value + ",";
          if (i < line.size() && line[i] == ',') ++i;
        }
        if (!closed) {
          err(n, "labels not closed", line);
          continue;
        }
      }
      if (i >= line.size() || line[i] != ' ') {
        err(n, "no space before the value", line);
        continue;
      }
      std::istringstream rest(line.substr(i + 1));
      std::string value, timestamp, extra;
      rest >> value >> timestamp >> extra;
      if (!std::regex_match(value, kValue)) err(n, "bad value '" + value + "'", line);
      if (!timestamp.empty() && !std::regex_match(timestamp, std::regex("-?[0-9]+"))) {
        err(n, "bad timestamp", line);
      }
      if (!extra.empty()) err(n, "trailing text", line);
      if (line.substr(i + 1).find("  ") != std::string::npos) err(n, "double space", line);
      if (!series.insert(name + "{" + labels + "}").second) err(n, "duplicate series", line);
      if (!typed.count(name)) err(n, "sample before its TYPE", line);
      sampled.insert(name);
    }
    if (family != current) {
      if (finished.count(family)) err(n, "lines of " + family + " are not one group", line);
      if (!current.empty()) finished.insert(current);
      current = family;
    }
  }
  return errors;
}

// ValidatePrometheusText's findings, one per line; "" when there are none.
std::string Problems(const std::string& text) {
  std::string out;
  for (const auto& e : ValidatePrometheusText(text)) out += e + "\n";
  return out;
}

// Sample lines of a family: {labels, value}.
std::map<std::string, std::string> Samples(const std::string& text, const std::string& name) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    size_t space = line.rfind(' ');
    out[line.substr(name.size(), space - name.size())] = line.substr(space + 1);
  }
  return out;
}

std::string Value(const std::string& text, const std::string& name) {
  auto s = Samples(text, name);
  EXPECT_EQ(s.size(), 1u) << name;
  return s.empty() ? "" : s.begin()->second;
}

TEST(PrometheusValidator, CatchesTheMistakesItLooksFor) {
  EXPECT_EQ(Problems("# TYPE a gauge\na 1\n"), "");
  EXPECT_EQ(Problems("# HELP a x\n# TYPE a gauge\na{l=\"q\\\"\\\\\\n\"} 1\n"), "");
  const std::pair<const char*, const char*> bad[] = {
      {"a 1\n# TYPE a gauge\n", "sample before its TYPE"},
      {"# TYPE a gauge\n# TYPE a gauge\na 1\n", "second TYPE"},
      {"# HELP a x\n# HELP a y\n# TYPE a gauge\na 1\n", "second HELP"},
      {"# TYPE a gauge\na{l=\"x\ny\"} 1\n", "unterminated label value"},
      {"# TYPE a gauge\na{l=\"x\\y\"} 1\n", "bad escape in a label value"},
      {"# TYPE a gauge\na{l=\"x\"y\"} 1\n", "labels not closed"},
      {"# TYPE a gauge\na{l=x} 1\n", "label value not quoted"},
      {"# TYPE a gauge\na{l=\"1\",l=\"2\"} 1\n", "label l twice"},
      {"# TYPE a gauge\na 1", "does not end with a line feed"},
      {"# TYPE a gauge\na one\n", "bad value"},
      {"# TYPE a gauge\na 1 2 3\n", "trailing text"},
      {"# TYPE a gauge\na 1\na 2\n", "duplicate series"},
      {"# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n", "not one group"},
      {"# TYPE 1a gauge\n1a 1\n", "bad metric name"},
      {"# TYPE a gauges\na 1\n", "bad type"},
      {"# HELP a x\\y\n# TYPE a gauge\na 1\n", "bad escape in HELP"},
  };
  for (const auto& [text, problem] : bad) EXPECT_THAT(Problems(text), HasSubstr(problem)) << text;
}

// A master whose replicants have every character a label value must escape.
Snapshot MasterWithAwkwardReplicantNames() {
  Snapshot s = Master();
  s.replicants = {{"say \"hi\"", "10.0.0.5", "streaming", 100, 0.5, "async", 0.2},
                  {"back\\slash", "10.0.0.6", "streaming", 0, 0, "async", 0.2},
                  {"two\nlines", "local", "catchup", -1, -1, "async", 0.2},
                  {"all \"of\\ them\n", "::1", "backup", 5, 0, "async", 0.2}};
  return s;
}

std::vector<Snapshot> MetricSnapshots() {
  Snapshot promoted = Master();
  promoted.keeper.promoted = true;
  Snapshot stopped = Master();
  stopped.keeper.phase = "stopped";
  stopped.postgres_up = false;
  Snapshot starting;
  Snapshot odd = StreamingReplicant();
  odd.lag_seconds = 1234567.891;
  odd.keeper.clone.rate_bytes_per_s = 0.125;
  // `odd` stays last: the promtool test uses it.
  return {Master(), MasterWithSlots(), promoted, StreamingReplicant(), Cloning(), Stalled(), stopped, starting,
          MasterWithAwkwardReplicantNames(), odd};
}

TEST(RenderMetrics, EveryRenderingIsValidPrometheusText) {
  for (const Snapshot& s : MetricSnapshots()) {
    std::string text = RenderMetrics(s, kNow);
    EXPECT_EQ(Problems(text), "") << s.role() << ":\n" << text;
  }
}

TEST(RenderMetrics, EveryFamilyHasHelpAndTypeGaugeBeforeItsSamples) {
  std::string text = RenderMetrics(MasterWithAwkwardReplicantNames(), kNow);
  std::istringstream in(text);
  std::string line;
  std::set<std::string> seen_type;
  std::string last_help;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      last_help = line.substr(7, line.find(' ', 7) - 7);
    } else if (line.rfind("# TYPE ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_EQ(name, last_help) << "HELP directly before TYPE";
      EXPECT_EQ(line, "# TYPE " + name + " gauge");
      EXPECT_TRUE(seen_type.insert(name).second) << name;
    } else {
      std::string name = line.substr(0, line.find_first_of("{ "));
      EXPECT_TRUE(seen_type.count(name)) << line;
    }
  }
  for (const char* family :
       {"pgkeeper_postgres_up", "pgkeeper_role", "pgkeeper_timeline", "pgkeeper_in_recovery",
        "pgkeeper_streaming", "pgkeeper_replication_lag_bytes", "pgkeeper_replication_lag_seconds",
        "pgkeeper_connected_replicants", "pgkeeper_replicant_lag_bytes", "pgkeeper_clone_active",
        "pgkeeper_clone_done_bytes", "pgkeeper_clone_total_bytes",
        "pgkeeper_clone_rate_bytes_per_second", "pgkeeper_snapshot_age_seconds"}) {
    EXPECT_TRUE(seen_type.count(family)) << family;
  }
}

TEST(RenderMetrics, RoleGaugeHasExactlyOneOneOnTheCurrentRole) {
  for (const Snapshot& s : MetricSnapshots()) {
    auto roles = Samples(RenderMetrics(s, kNow), "pgkeeper_role");
    ASSERT_EQ(roles.size(), 6u);
    int ones = 0;
    for (const char* role : kRoles) {
      std::string key = std::string("{role=\"") + role + "\"}";
      ASSERT_TRUE(roles.count(key)) << key;
      EXPECT_EQ(roles[key], role == s.role() ? "1" : "0") << role;
      ones += roles[key] == "1";
    }
    EXPECT_EQ(ones, 1) << s.role();
  }
}

TEST(RenderMetrics, ReplicantShowsLagTimelineAndStreaming) {
  std::string text = RenderMetrics(StreamingReplicant(), kNow);
  EXPECT_EQ(Value(text, "pgkeeper_postgres_up"), "1");
  EXPECT_EQ(Value(text, "pgkeeper_timeline"), "1");
  EXPECT_EQ(Value(text, "pgkeeper_in_recovery"), "1");
  EXPECT_EQ(Value(text, "pgkeeper_streaming"), "1");
  EXPECT_EQ(Value(text, "pgkeeper_replication_lag_bytes"), "72");
  EXPECT_EQ(Value(text, "pgkeeper_replication_lag_seconds"), "0.25");
  EXPECT_EQ(Value(text, "pgkeeper_connected_replicants"), "0");
  EXPECT_TRUE(Samples(text, "pgkeeper_replicant_lag_bytes").empty());
  EXPECT_THAT(text, Not(HasSubstr("pgkeeper_replicant_lag_bytes")))
      << "no family without samples";
  EXPECT_EQ(Value(text, "pgkeeper_clone_active"), "0");
  EXPECT_EQ(Value(text, "pgkeeper_snapshot_age_seconds"), "0.25");
}

TEST(RenderMetrics, MasterShowsConnectedReplicantsAndTheirLag) {
  std::string text = RenderMetrics(Master(), kNow);
  EXPECT_EQ(Value(text, "pgkeeper_in_recovery"), "0");
  EXPECT_EQ(Value(text, "pgkeeper_replication_lag_bytes"), "-1");
  EXPECT_EQ(Value(text, "pgkeeper_replication_lag_seconds"), "-1");
  EXPECT_EQ(Value(text, "pgkeeper_connected_replicants"), "2");
  auto lag = Samples(text, "pgkeeper_replicant_lag_bytes");
  EXPECT_EQ(lag, (std::map<std::string, std::string>{
                     {"{name=\"pg-replicant-1\",address=\"172.18.0.3\"}", "0"},
                     {"{name=\"pg-replicant-2\",address=\"172.18.0.4\"}", "3145728"}}));
}

TEST(RenderMetrics, EachSlotHasActivityAndRetainedWal) {
  std::string text = RenderMetrics(MasterWithSlots(), kNow);
  EXPECT_EQ(Samples(text, "pgkeeper_slot_active"),
            (std::map<std::string, std::string>{{"{slot=\"pg_replicant_1\"}", "1"},
                                                {"{slot=\"pg_replicant_2\"}", "1"},
                                                {"{slot=\"pg_replicant_3\"}", "0"},
                                                {"{slot=\"pg_replicant_4\"}", "0"}}));
  auto retained = Samples(text, "pgkeeper_slot_retained_bytes");
  EXPECT_EQ(retained["{slot=\"pg_replicant_3\",wal_status=\"extended\"}"], "209715200");
  EXPECT_EQ(retained["{slot=\"pg_replicant_4\",wal_status=\"lost\"}"], "-1");
  EXPECT_THAT(RenderMetrics(Master(), kNow), Not(HasSubstr("pgkeeper_slot_")));
}

TEST(RenderMetrics, CloneProgressIsShownWhileCloning) {
  std::string text = RenderMetrics(Cloning(), kNow);
  EXPECT_EQ(Value(text, "pgkeeper_postgres_up"), "0");
  EXPECT_EQ(Value(text, "pgkeeper_timeline"), "0");
  EXPECT_EQ(Value(text, "pgkeeper_clone_active"), "1");
  EXPECT_EQ(Value(text, "pgkeeper_clone_done_bytes"), std::to_string(350 * kMB));
  EXPECT_EQ(Value(text, "pgkeeper_clone_total_bytes"), std::to_string(780 * kMB));
  EXPECT_EQ(Value(text, "pgkeeper_clone_rate_bytes_per_second"), std::to_string(52 * kMB));
}

TEST(RenderMetrics, TheDiskHoldingPgdataHasItsFreeBytesAndSize) {
  std::string text = RenderMetrics(DiskFull(), kNow);
  EXPECT_EQ(Value(text, "pgkeeper_data_disk_free_bytes"), "4096");
  EXPECT_EQ(Value(text, "pgkeeper_data_disk_size_bytes"), std::to_string(512 * kMB));
  EXPECT_THAT(RenderMetrics(Master(), kNow), Not(HasSubstr("pgkeeper_data_disk")));
}

TEST(RenderMetrics, LabelValuesEscapeQuoteBackslashAndNewline) {
  std::string text = RenderMetrics(MasterWithAwkwardReplicantNames(), kNow);
  auto lag = Samples(text, "pgkeeper_replicant_lag_bytes");
  EXPECT_EQ(lag, (std::map<std::string, std::string>{
                     {R"({name="say \"hi\"",address="10.0.0.5"})", "100"},
                     {R"({name="back\\slash",address="10.0.0.6"})", "0"},
                     {R"({name="two\nlines",address="local"})", "-1"},
                     {R"({name="all \"of\\ them\n",address="::1"})", "5"}}));
  EXPECT_EQ(Value(text, "pgkeeper_connected_replicants"), "4");
  // No raw newline split a sample line.
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_TRUE(line[0] == '#' || line.rfind("pgkeeper_", 0) == 0) << "'" << line << "'";
  }
}

TEST(RenderMetrics, SnapshotAgeIsSecondsOrMinusOneWhenNeverTaken) {
  Snapshot s = Master();
  s.taken_at_ms = kNow - 1500;
  EXPECT_EQ(Value(RenderMetrics(s, kNow), "pgkeeper_snapshot_age_seconds"), "1.5");
  s.taken_at_ms = 0;
  EXPECT_EQ(Value(RenderMetrics(s, kNow), "pgkeeper_snapshot_age_seconds"), "-1");
}

TEST(RenderMetrics, FractionsAndLargeNumbersStayValidNumbers) {
  Snapshot s = StreamingReplicant();
  s.lag_seconds = 1234567.891;
  s.lag_bytes = 999'999'999'999LL;
  s.keeper.clone = {true, 1, 3, 0.125, -1};
  std::string text = RenderMetrics(s, kNow);
  EXPECT_EQ(Value(text, "pgkeeper_replication_lag_bytes"), "999999999999");
  EXPECT_DOUBLE_EQ(std::stod(Value(text, "pgkeeper_replication_lag_seconds")), 1234570);
  EXPECT_EQ(Value(text, "pgkeeper_clone_rate_bytes_per_second"), "0.125");
  EXPECT_EQ(Value(text, "pgkeeper_timeline"), "1") << "later values are not printed in e-notation";
}

TEST(RenderMetrics, PromtoolAcceptsTheOutput) {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) GTEST_SKIP() << promtool << " is not installed";
  TempDir dir;
  const std::string out = dir.path() + "/promtool.out";
  // Together these render every family, every escape and fractional values;
  // each promtool run costs about 50 ms.
  for (const Snapshot& s : {MasterWithAwkwardReplicantNames(), Cloning(), MetricSnapshots().back()}) {
    // Each exposition is piped to promtool's stdin on its own.
    std::string cmd = std::string(promtool) + " check metrics > " + out + " 2>&1";
    FILE* pipe = popen(cmd.c_str(), "w");
    ASSERT_NE(pipe, nullptr);
    std::string rendered = RenderMetrics(s, kNow);
    fwrite(rendered.data(), 1, rendered.size(), pipe);
    int rc = pclose(pipe);
    std::string said;
    if (FILE* f = fopen(out.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof(buf), f)) > 0) said.append(buf, n);
      fclose(f);
    }
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)
        << s.role() << ": promtool exited " << rc << ":\n" << said << "\n" << rendered;
    EXPECT_EQ(said, "") << s.role() << ": promtool complained about\n" << rendered;
  }
}

// ---------------------------------------------------------------- JudgeHealth

enum class PhaseKind { kServing, kWorking, kBroken };

const std::map<std::string, PhaseKind>& PhaseKinds() {
  static const auto* kinds = new std::map<std::string, PhaseKind>{
      {"running", PhaseKind::kServing},          {"streaming", PhaseKind::kServing},
      {"standby", PhaseKind::kServing},          {"starting", PhaseKind::kWorking},
      {"initialising", PhaseKind::kWorking},     {"waiting-for-master", PhaseKind::kWorking},
      {"cloning", PhaseKind::kWorking},          {"promoting", PhaseKind::kWorking},
      {"stopping", PhaseKind::kWorking},         {"unknown", PhaseKind::kWorking},
      {"rejoining", PhaseKind::kWorking},        {"restarting", PhaseKind::kWorking},
      {"stalled", PhaseKind::kBroken},           {"stopped", PhaseKind::kBroken},
      {"refused", PhaseKind::kBroken},           {"failed", PhaseKind::kBroken}};
  return *kinds;
}

const char* ModeName(HealthMode m) {
  switch (m) {
    case HealthMode::kDefault: return "default";
    case HealthMode::kReady: return "ready";
    case HealthMode::kLive: return "live";
  }
  return "?";
}

TEST(JudgeHealth, EveryPhaseModeAndCircumstance) {
  int combinations = 0;
  for (const char* phase : kPhases) {
    PhaseKind kind = PhaseKinds().at(phase);
    bool copying_phase = std::string(phase) == "waiting-for-master" ||
                         std::string(phase) == "cloning" || std::string(phase) == "rejoining";
    for (HealthMode mode : {HealthMode::kDefault, HealthMode::kReady, HealthMode::kLive}) {
      for (bool alive : {false, true}) {
        for (bool accepting : {false, true}) {
          for (bool replicant : {false, true}) {
            KeeperState k;
            k.pid = 321;
            k.phase = phase;
            k.message = "the message";
            k.configured_replicant = replicant;
            bool live = alive && kind != PhaseKind::kBroken;
            bool ready = alive && kind == PhaseKind::kServing && accepting;
            bool want = mode == HealthMode::kLive    ? live
                        : mode == HealthMode::kReady ? ready
                        : (replicant && copying_phase) ? live
                                                       : ready;
            HealthVerdict v = JudgeHealth(k, alive, accepting, mode);
            std::string where = std::string(phase) + " mode=" + ModeName(mode) +
                                " alive=" + std::to_string(alive) +
                                " accepting=" + std::to_string(accepting) +
                                " replicant=" + std::to_string(replicant);
            EXPECT_EQ(v.ok, want) << where << ": " << v.text;
            EXPECT_THAT(v.text, StartsWith(want ? "healthy: " : "unhealthy: ")) << where;
            EXPECT_THAT(v.text, HasSubstr(phase)) << where;
            if (!alive) {
              EXPECT_THAT(v.text, HasSubstr("pgkeeper (pid 321) is not running; last phase " +
                                            std::string(phase) + ": the message"))
                  << where;
            } else if (kind == PhaseKind::kServing && !accepting) {
              EXPECT_THAT(v.text, HasSubstr("postgres does not accept connections")) << where;
            } else if (want && !ready) {
              EXPECT_THAT(v.text, HasSubstr("alive, not ready: ")) << where;
            } else {
              EXPECT_EQ(v.text, std::string(want ? "healthy: " : "unhealthy: ") + phase +
                                    ": the message")
                  << where;
            }
            ++combinations;
          }
        }
      }
    }
  }
  EXPECT_EQ(combinations, 16 * 3 * 8);
}

TEST(JudgeHealth, ACloningReplicantIsAliveButNotReady) {
  KeeperState k;
  k.phase = "cloning";
  k.message = "copying pg-master:5432 with pg_basebackup";
  k.configured_replicant = true;
  HealthVerdict d = JudgeHealth(k, true, false, HealthMode::kDefault);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.text, "healthy: alive, not ready: cloning: copying pg-master:5432 with pg_basebackup");
  EXPECT_TRUE(JudgeHealth(k, true, false, HealthMode::kLive).ok);
  EXPECT_FALSE(JudgeHealth(k, true, false, HealthMode::kReady).ok);
  EXPECT_FALSE(JudgeHealth(k, false, false, HealthMode::kDefault).ok) << "unless pgkeeper is gone";
}

TEST(JudgeHealth, ServingNodesAreHealthyOnlyWhilePostgresAcceptsConnections) {
  for (const char* phase : {"running", "streaming", "standby"}) {
    KeeperState k;
    k.phase = phase;
    k.message = "m";
    HealthVerdict ok = JudgeHealth(k, true, true, HealthMode::kDefault);
    EXPECT_TRUE(ok.ok);
    EXPECT_EQ(ok.text, std::string("healthy: ") + phase + ": m");
    HealthVerdict down = JudgeHealth(k, true, false, HealthMode::kDefault);
    EXPECT_FALSE(down.ok);
    EXPECT_EQ(down.text, std::string("unhealthy: ") + phase + ", but postgres does not accept connections");
  }
}

TEST(JudgeHealth, AStalledReplicantIsUnhealthyInEveryMode) {
  KeeperState k;
  k.phase = "stalled";
  k.message = "cannot resume";
  k.configured_replicant = true;
  for (HealthMode mode : {HealthMode::kDefault, HealthMode::kReady, HealthMode::kLive}) {
    HealthVerdict v = JudgeHealth(k, true, true, mode);
    EXPECT_FALSE(v.ok) << ModeName(mode);
    EXPECT_EQ(v.text, "unhealthy: stalled: cannot resume");
  }
}

TEST(JudgeHealth, AFullDiskIsAliveButNotReady) {
  KeeperState k = DiskFull().keeper;
  k.configured_replicant = true;
  EXPECT_FALSE(JudgeHealth(k, true, true, HealthMode::kDefault).ok);
  EXPECT_FALSE(JudgeHealth(k, true, true, HealthMode::kReady).ok);
  EXPECT_TRUE(JudgeHealth(k, true, true, HealthMode::kLive).ok);
}

TEST(JudgeHealth, AnEmptyMessageLeavesNoDanglingColon) {
  KeeperState k;
  k.phase = "running";
  EXPECT_EQ(JudgeHealth(k, true, true, HealthMode::kDefault).text, "healthy: running");
  k.phase = "starting";
  EXPECT_EQ(JudgeHealth(k, true, false, HealthMode::kLive).text, "healthy: alive, not ready: starting");
}

}  // namespace
}  // namespace pgkeeper

namespace pgkeeper {
namespace {

// A strict master naming two replicants, one of which confirms; a clone's
// stream beside them is no replicant of the list.
Snapshot StrictMaster() {
  Snapshot s = fixtures::Master();
  s.keeper.sync_required = 1;
  s.sync.asked = 1;
  s.sync.names = {"pg_2", "pg_3"};
  s.sync.commit = "on";
  s.replicants = {{"pg_2", "172.18.0.3", "streaming", 0, 0, "quorum", 0.2},
                  {"pgkeeper_clone", "172.18.0.4", "streaming", 0, 0, "async", 0.2}};
  return s;
}

TEST(SyncStatus, SaysWhoMayConfirmAndWhoDoes) {
  Snapshot s = StrictMaster();
  EXPECT_THAT(RenderStatusTable(s),
              HasSubstr("1 required (strict, on), asked: ANY 1 of pg_2, pg_3, confirming: pg_2, "
                        "0 commits waiting"));
  json sync = json::parse(ToJson(s))["synchronous"];
  EXPECT_EQ(sync["may_confirm"], (json{"pg_2", "pg_3"}));
  EXPECT_EQ(sync["synchronous_replicants"], json{"pg_2"});
  std::string metrics = RenderMetrics(s, kNow);
  EXPECT_THAT(metrics, HasSubstr("\npgkeeper_sync_eligible_replicants 2\n"));
  EXPECT_THAT(metrics, HasSubstr("\npgkeeper_sync_replicant_confirms{name=\"pg_2\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\npgkeeper_sync_replicant_confirms{name=\"pg_3\"} 0\n"));
  EXPECT_THAT(metrics, Not(HasSubstr("replicant_confirms{name=\"pgkeeper_clone\"")));

  s.sync.names.clear();  // no replicant has a slot here yet
  s.replicants.clear();
  EXPECT_THAT(RenderStatusTable(s), HasSubstr("asked: ANY 1 of no replicant yet, confirming: none"));
  EXPECT_THAT(RenderMetrics(s, kNow), HasSubstr("\npgkeeper_sync_eligible_replicants 0\n"));
}

}  // namespace
}  // namespace pgkeeper

#include "postgresql/datadir.h"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace pgkeeper {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---------------------------------------------------------------- Classify

// A complete PostgreSQL 15 data directory as InspectDataDir would see it.
DataDirFacts Pg15(std::optional<std::string> origin, bool standby_signal = false) {
  DataDirFacts f;
  f.exists = true;
  f.entries = {"PG_VERSION", "base", "global", "pg_wal", "postgresql.conf"};
  if (origin) f.entries.push_back(kStateFile);
  if (standby_signal) f.entries.push_back("standby.signal");
  f.pg_version = "15";
  f.has_pg_control = true;
  f.has_standby_signal = standby_signal;
  f.origin = origin;
  return f;
}

TEST(Classify, MissingDirectoryIsEmpty) {
  DataDirFacts f;
  f.exists = false;
  EXPECT_EQ(Classify(f), DataDirState::kEmpty);
}

TEST(Classify, DirectoryWithoutEntriesIsEmpty) {
  DataDirFacts f;
  f.exists = true;
  EXPECT_EQ(Classify(f), DataDirState::kEmpty);
}

TEST(Classify, DataMadeByPgkeepersInitdbIsAMaster) {
  EXPECT_EQ(Classify(Pg15("init")), DataDirState::kMaster);
}

TEST(Classify, DataWithStandbySignalIsAStandby) {
  EXPECT_EQ(Classify(Pg15("clone", /*standby_signal=*/true)), DataDirState::kStandby);
}

TEST(Classify, StandbySignalWinsOverAMissingOrOtherOrigin) {
  EXPECT_EQ(Classify(Pg15(std::nullopt, true)), DataDirState::kStandby);
  EXPECT_EQ(Classify(Pg15("init", true)), DataDirState::kStandby);
  EXPECT_EQ(Classify(Pg15("promoted", true)), DataDirState::kStandby);
}

TEST(Classify, PromotedOriginIsPromoted) {
  EXPECT_EQ(Classify(Pg15("promoted")), DataDirState::kPromoted);
}

// A promotion interrupted between pg_promote (which removes standby.signal)
// and pgkeeper's writing origin=promoted must still count as promoted.
TEST(Classify, CloneWithoutStandbySignalIsPromoted) {
  EXPECT_EQ(Classify(Pg15("clone")), DataDirState::kPromoted);
}

TEST(Classify, CompleteDataWithoutAStateFileIsForeign) {
  EXPECT_EQ(Classify(Pg15(std::nullopt)), DataDirState::kForeignPostgres);
}

TEST(Classify, UnknownOriginIsForeign) {
  EXPECT_EQ(Classify(Pg15("restored-by-hand")), DataDirState::kForeignPostgres);
  EXPECT_EQ(Classify(Pg15("")), DataDirState::kForeignPostgres);
}

TEST(Classify, AnotherMajorVersionIsWrongVersion) {
  for (const char* v : {"14", "16", "9.6", "150", ""}) {
    DataDirFacts f = Pg15("init");
    f.pg_version = v;
    EXPECT_EQ(Classify(f), DataDirState::kWrongVersion) << "PG_VERSION '" << v << "'";
  }
}

TEST(Classify, WrongVersionIsReportedEvenWithoutPgControl) {
  DataDirFacts f = Pg15(std::nullopt);
  f.pg_version = "14";
  f.has_pg_control = false;
  EXPECT_EQ(Classify(f), DataDirState::kWrongVersion);
}

TEST(Classify, Version15WithoutPgControlIsHalfMadeWhateverElseItHolds) {
  for (auto f : {Pg15(std::nullopt), Pg15("init"), Pg15("clone", true), Pg15("promoted")}) {
    f.has_pg_control = false;
    EXPECT_EQ(Classify(f), DataDirState::kHalfMade);
  }
}

TEST(Classify, FilesWithoutPgVersionAreNotPostgres) {
  DataDirFacts f;
  f.exists = true;
  f.entries = {"notes.txt"};
  EXPECT_EQ(Classify(f), DataDirState::kNotPostgres);
}

TEST(Classify, PgControlOrStateFileWithoutPgVersionIsStillNotPostgres) {
  DataDirFacts f = Pg15("init", true);
  f.pg_version.reset();
  EXPECT_EQ(Classify(f), DataDirState::kNotPostgres);
}

TEST(Describe, NamesEachStateDifferently) {
  DataDirFacts f = Pg15(std::nullopt);
  f.pg_version = "14";
  std::set<std::string> seen;
  for (DataDirState s : {DataDirState::kEmpty, DataDirState::kMaster, DataDirState::kStandby,
                         DataDirState::kPromoted, DataDirState::kForeignPostgres,
                         DataDirState::kWrongVersion, DataDirState::kHalfMade,
                         DataDirState::kNotPostgres}) {
    std::string d = Describe(s, f);
    EXPECT_FALSE(d.empty());
    EXPECT_NE(d, "unknown");
    EXPECT_TRUE(seen.insert(d).second) << d;
  }
}

TEST(Describe, WrongVersionNamesBothVersions) {
  DataDirFacts f = Pg15(std::nullopt);
  f.pg_version = "14";
  std::string d = Describe(DataDirState::kWrongVersion, f);
  EXPECT_THAT(d, HasSubstr("PostgreSQL 14"));
  EXPECT_THAT(d, HasSubstr("15"));
}

TEST(Describe, HalfMadeMentionsTheMissingPgControl) {
  EXPECT_THAT(Describe(DataDirState::kHalfMade, DataDirFacts()), HasSubstr("global/pg_control"));
}

// ---------------------------------------------------------------- StateValue

TEST(StateValue, FindsTheValueOfAKeyAmongCommentsAndOtherKeys) {
  const std::string content =
      "# Written by pgkeeper: how this data directory was made.\n"
      "made=2024-01-01\n"
      "origin=init\n";
  EXPECT_EQ(StateValue(content, "origin"), "init");
  EXPECT_EQ(StateValue(content, "made"), "2024-01-01");
}

TEST(StateValue, StripsTrailingWhitespaceAndCarriageReturns) {
  EXPECT_EQ(StateValue("origin=clone \r\n", "origin"), "clone");
}

TEST(StateValue, WorksWithoutAFinalNewline) {
  EXPECT_EQ(StateValue("origin=promoted", "origin"), "promoted");
}

TEST(StateValue, MissingKeyIsNullopt) {
  EXPECT_EQ(StateValue("", "origin"), std::nullopt);
  EXPECT_EQ(StateValue("# origin is unknown\n", "origin"), std::nullopt);
  EXPECT_EQ(StateValue("other=init\n", "origin"), std::nullopt);
}

TEST(StateValue, KeyMustMatchExactlyNotAsAPrefixOrSuffix) {
  EXPECT_EQ(StateValue("originx=init\nxorigin=init\n", "origin"), std::nullopt);
  EXPECT_EQ(StateValue("# origin=init\n", "origin"), std::nullopt);
}

TEST(StateValue, ValueKeepsFurtherEqualsSigns) {
  EXPECT_EQ(StateValue("origin=a=b\n", "origin"), "a=b");
}

TEST(StateValue, FirstOccurrenceWins) {
  EXPECT_EQ(StateValue("origin=init\norigin=clone\n", "origin"), "init");
}

TEST(StateValue, EmptyValueIsPresentButEmpty) {
  EXPECT_EQ(StateValue("origin=\n", "origin"), "");
}

// ---------------------------------------------------------------- InspectDataDir on disk

// Lays out a PostgreSQL 15 data directory as initdb leaves it (the parts
// InspectDataDir looks at).
void MakePg15(const TempDir& d) {
  d.Write("PG_VERSION", "15\n");
  d.Write("global/pg_control", "control");
  d.Mkdir("base/1");
  d.Mkdir("pg_wal");
  d.Write("postgresql.conf", "# conf\n");
}

TEST(InspectDataDir, MissingDirectoryIsNotAnErrorAndIsEmpty) {
  TempDir d;
  DataDirFacts f;
  f.entries = {"stale"};
  ASSERT_TRUE(InspectDataDir(d.path() + "/does-not-exist", &f).ok());
  EXPECT_FALSE(f.exists);
  EXPECT_THAT(f.entries, ElementsAre()) << "facts are reset";
  EXPECT_EQ(Classify(f), DataDirState::kEmpty);
}

TEST(InspectDataDir, EmptyDirectoryExistsWithNoEntries) {
  TempDir d;
  DataDirFacts f;
  ASSERT_TRUE(InspectDataDir(d.path(), &f).ok());
  EXPECT_TRUE(f.exists);
  EXPECT_THAT(f.entries, ElementsAre());
  EXPECT_FALSE(f.pg_version);
  EXPECT_FALSE(f.has_pg_control);
  EXPECT_FALSE(f.has_standby_signal);
  EXPECT_FALSE(f.origin);
  EXPECT_EQ(Classify(f), DataDirState::kEmpty);
}

TEST(InspectDataDir, ReadsAMastersFactsWithSortedEntries) {
  TempDir d;
  MakePg15(d);
  d.Write(kStateFile, "# Written by pgkeeper\norigin=init\n");
  DataDirFacts f;
  ASSERT_TRUE(InspectDataDir(d.path(), &f).ok());
  EXPECT_TRUE(f.exists);
  EXPECT_THAT(f.entries, ElementsAre("PG_VERSION", "base", "global", "pg_wal", "pgkeeper.state",
                                     "postgresql.conf"));
  EXPECT_EQ(f.pg_version, "15") << "the trailing newline is trimmed";
  EXPECT_TRUE(f.has_pg_control);
  EXPECT_FALSE(f.has_standby_signal);
  EXPECT_EQ(f.origin, "init");
  EXPECT_EQ(Classify(f), DataDirState::kMaster);
}

TEST(InspectDataDir, SeesStandbySignal) {
  TempDir d;
  MakePg15(d);
  d.Write(kStateFile, "origin=clone\n");
  d.Write("standby.signal");
  DataDirFacts f;
  ASSERT_TRUE(InspectDataDir(d.path(), &f).ok());
  EXPECT_TRUE(f.has_standby_signal);
  EXPECT_EQ(Classify(f), DataDirState::kStandby);
}

TEST(InspectDataDir, ClassifiesEveryStateFromRealFiles) {
  struct Case {
    const char* what;
    void (*make)(const TempDir&);
    DataDirState want;
  };
  const Case cases[] = {
      {"promoted", [](const TempDir& d) { MakePg15(d); d.Write(kStateFile, "origin=promoted\n"); },
       DataDirState::kPromoted},
      {"clone without standby.signal",
       [](const TempDir& d) { MakePg15(d); d.Write(kStateFile, "origin=clone\n"); },
       DataDirState::kPromoted},
      {"foreign", [](const TempDir& d) { MakePg15(d); }, DataDirState::kForeignPostgres},
      {"state file without origin",
       [](const TempDir& d) { MakePg15(d); d.Write(kStateFile, "# nothing\n"); },
       DataDirState::kForeignPostgres},
      {"wrong version", [](const TempDir& d) { MakePg15(d); d.Write("PG_VERSION", "14\n"); },
       DataDirState::kWrongVersion},
      {"half-made",
       [](const TempDir& d) {
         MakePg15(d);
         std::filesystem::remove(d.path() + "/global/pg_control");
       },
       DataDirState::kHalfMade},
      {"not postgres", [](const TempDir& d) { d.Write("notes.txt", "hello"); },
       DataDirState::kNotPostgres},
      {"hidden file only", [](const TempDir& d) { d.Write(".bashrc", ""); },
       DataDirState::kNotPostgres},
  };
  for (const auto& c : cases) {
    TempDir d;
    c.make(d);
    DataDirFacts f;
    ASSERT_TRUE(InspectDataDir(d.path(), &f).ok()) << c.what;
    EXPECT_EQ(Classify(f), c.want) << c.what;
  }
}

TEST(InspectDataDir, IgnoresSwapEntriesAndLostAndFound) {
  TempDir d;
  d.Mkdir("lost+found");
  d.Write(std::string(kStagingNew) + "/PG_VERSION", "15\n");
  d.Write(std::string(kStagingReady) + "/PG_VERSION", "15\n");
  d.Write(std::string(kOldPartial) + "/PG_VERSION", "15\n");
  d.Write(std::string(kOld) + "/PG_VERSION", "15\n");
  DataDirFacts f;
  ASSERT_TRUE(InspectDataDir(d.path(), &f).ok());
  EXPECT_TRUE(f.exists);
  EXPECT_THAT(f.entries, ElementsAre());
  EXPECT_EQ(Classify(f), DataDirState::kEmpty);
}

TEST(InspectDataDir, ListsRealEntriesBesideIgnoredOnes) {
  TempDir d;
  MakePg15(d);
  d.Write(kStateFile, "origin=init\n");
  d.Mkdir("lost+found");
  d.Mkdir(kStagingNew);
  DataDirFacts f;
  ASSERT_TRUE(InspectDataDir(d.path(), &f).ok());
  EXPECT_THAT(f.entries, ElementsAre("PG_VERSION", "base", "global", "pg_wal", "pgkeeper.state",
                                     "postgresql.conf"));
  EXPECT_EQ(Classify(f), DataDirState::kMaster);
}

TEST(InspectDataDir, APathThatIsAFileIsASystemErrorNamingIt) {
  TempDir d;
  d.Write("file");
  DataDirFacts f;
  Status st = InspectDataDir(d.path() + "/file", &f);
  EXPECT_EQ(st.code(), ExitCode::kSystem);
  EXPECT_THAT(st.message(), HasSubstr(d.path() + "/file"));
}

}  // namespace
}  // namespace pgkeeper

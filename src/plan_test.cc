#include "plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iterator>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "Sup3r-Secret-Passw0rd";
constexpr char kDiscard[] = "delete the contents of /var/lib/postgresql/data";

// The configurations a node can be given.
enum class Kind {
  kMaster,            // REPLICATE_FROM unset
  kReplicantDestroy,  // REPLICATE_FROM set, DESTROY_DATABASE_ON_RESTART=True
  kReplicantKeep,     // REPLICATE_FROM set, DESTROY_DATABASE_ON_RESTART=False
  kPromoteReplicant,  // PROMOTE_MASTER=True with REPLICATE_FROM still set
  kPromoteAlone,      // PROMOTE_MASTER=True, REPLICATE_FROM unset
  kReplicantRejoin,   // REPLICATE_FROM set, ALLOW_REJOIN=True
};

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kMaster: return "Master";
    case Kind::kReplicantDestroy: return "ReplicantDestroyTrue";
    case Kind::kReplicantKeep: return "ReplicantDestroyFalse";
    case Kind::kPromoteReplicant: return "PromoteWithReplicateFrom";
    case Kind::kPromoteAlone: return "PromoteWithoutReplicateFrom";
    case Kind::kReplicantRejoin: return "ReplicantAllowRejoin";
  }
  return "?";
}

const char* StateName(DataDirState s) {
  switch (s) {
    case DataDirState::kEmpty: return "Empty";
    case DataDirState::kMaster: return "Master";
    case DataDirState::kStandby: return "Standby";
    case DataDirState::kPromoted: return "Promoted";
    case DataDirState::kForeignPostgres: return "ForeignPostgres";
    case DataDirState::kWrongVersion: return "WrongVersion";
    case DataDirState::kHalfMade: return "HalfMade";
    case DataDirState::kNotPostgres: return "NotPostgres";
    case DataDirState::kRewindInterrupted: return "RewindInterrupted";
  }
  return "?";
}

const Kind kKinds[] = {Kind::kMaster, Kind::kReplicantDestroy, Kind::kReplicantKeep,
                       Kind::kPromoteReplicant, Kind::kPromoteAlone, Kind::kReplicantRejoin};
const DataDirState kStates[] = {
    DataDirState::kEmpty,           DataDirState::kMaster,       DataDirState::kStandby,
    DataDirState::kPromoted,        DataDirState::kForeignPostgres, DataDirState::kWrongVersion,
    DataDirState::kHalfMade,        DataDirState::kNotPostgres,  DataDirState::kRewindInterrupted};

Config ConfigOf(Kind k) {
  Config c;
  c.superuser_password = kPassword;
  switch (k) {
    case Kind::kMaster: break;
    case Kind::kReplicantDestroy:
      c.replicate_from = "pg-master";
      c.destroy_on_restart = true;
      break;
    case Kind::kReplicantKeep:
      c.replicate_from = "pg-master";
      c.destroy_on_restart = false;
      break;
    case Kind::kPromoteReplicant:
      c.replicate_from = "pg-master";
      c.promote_master = true;
      break;
    case Kind::kPromoteAlone: c.promote_master = true; break;
    case Kind::kReplicantRejoin:
      c.replicate_from = "pg-master";
      c.allow_rejoin = true;
      break;
  }
  return c;
}

// One cell of the decision table.
struct Cell {
  Kind kind;
  DataDirState state;
  Action action;
  ExitCode code;                    // kOk unless the action is kRefuse
  std::vector<std::string> words;   // the reason must contain each
  std::vector<std::string> absent;  // the reason must contain none
};

using A = Action;
using S = DataDirState;
using E = ExitCode;

const std::vector<Cell>& Table() {
  // Words every refusal of unusable data must carry.
  const std::vector<std::string> wrong_version = {"another PostgreSQL major version", "pg_upgrade",
                                                  "nothing was changed"};
  const std::vector<std::string> half_made = {"half-made", "global/pg_control", kDiscard};
  const std::vector<std::string> not_postgres = {"no PG_VERSION", "point PGDATA", kDiscard};
  const std::vector<std::string> rewound = {"pg_rewind", "stopped", "unusable", "set REPLICATE_FROM",
                                            kDiscard};
  const std::vector<std::string> recopy_rewound = {"fresh copy of pg-master:5432", "pg_rewind",
                                                   "stopped midway", "kept aside"};
  const std::vector<std::string> rejoin = {"rejoin pg-master:5432 as a replicant",
                                           "ALLOW_REJOIN=True", "report and keep",
                                           "follow, rewind or copy"};
  static const auto* table = new std::vector<Cell>{
      // -------- master: REPLICATE_FROM unset
      {Kind::kMaster, S::kEmpty, A::kInitMaster, E::kOk, {"initialise a new master", "empty"}, {}},
      {Kind::kMaster, S::kMaster, A::kStartMaster, E::kOk,
       {"existing data", "re-apply passwords, pg_hba.conf and settings"}, {}},
      {Kind::kMaster, S::kStandby, A::kRefuse, E::kState,
       {"replicant's data", "REPLICATE_FROM is not set", "PROMOTE_MASTER=True"}, {}},
      {Kind::kMaster, S::kPromoted, A::kStartMaster, E::kOk,
       {"promoted replicant's data", "REPLICATE_FROM is not set"}, {}},
      {Kind::kMaster, S::kForeignPostgres, A::kStartMaster, E::kOk,
       {"PostgreSQL 15", "pgkeeper did not make", "first-start steps are skipped"}, {}},
      {Kind::kMaster, S::kWrongVersion, A::kRefuse, E::kState, wrong_version, {}},
      {Kind::kMaster, S::kHalfMade, A::kRefuse, E::kState, half_made, {}},
      {Kind::kMaster, S::kNotPostgres, A::kRefuse, E::kState, not_postgres, {}},
      {Kind::kMaster, S::kRewindInterrupted, A::kRefuse, E::kState, rewound, {}},

      // -------- replicant, DESTROY_DATABASE_ON_RESTART=True
      {Kind::kReplicantDestroy, S::kEmpty, A::kClone, E::kOk,
       {"clone the master pg-master:5432", "empty"}, {}},
      {Kind::kReplicantDestroy, S::kStandby, A::kReclone, E::kOk,
       {"fresh copy", "pg-master:5432", "DESTROY_DATABASE_ON_RESTART=True",
        "existing data stays until the copy is complete"}, {}},
      {Kind::kReplicantDestroy, S::kPromoted, A::kRefuse, E::kState,
       {"promoted replicant's data", "nowhere else", "pg-master:5432", "PROMOTE_MASTER=True",
        "ALLOW_REJOIN=True", kDiscard}, {}},
      {Kind::kReplicantDestroy, S::kMaster, A::kRefuse, E::kState,
       {"master's data", "nowhere else", "pg-master:5432", "unset REPLICATE_FROM",
        "ALLOW_REJOIN=True", kDiscard}, {}},
      {Kind::kReplicantDestroy, S::kForeignPostgres, A::kRefuse, E::kState,
       {"master's data", "nowhere else", "unset REPLICATE_FROM", kDiscard}, {}},
      {Kind::kReplicantDestroy, S::kWrongVersion, A::kRefuse, E::kState, wrong_version, {}},
      {Kind::kReplicantDestroy, S::kHalfMade, A::kRefuse, E::kState, half_made, {}},
      {Kind::kReplicantDestroy, S::kNotPostgres, A::kRefuse, E::kState, not_postgres, {}},
      {Kind::kReplicantDestroy, S::kRewindInterrupted, A::kReclone, E::kOk, recopy_rewound, {}},

      // -------- replicant, DESTROY_DATABASE_ON_RESTART=False
      {Kind::kReplicantKeep, S::kEmpty, A::kClone, E::kOk,
       {"clone the master pg-master:5432", "empty"}, {}},
      {Kind::kReplicantKeep, S::kStandby, A::kResumeStandby, E::kOk,
       {"resume streaming from pg-master:5432", "existing data",
        "DESTROY_DATABASE_ON_RESTART=False"}, {}},
      {Kind::kReplicantKeep, S::kPromoted, A::kRefuse, E::kState,
       {"promoted replicant's data", "nowhere else", "PROMOTE_MASTER=True", kDiscard}, {}},
      {Kind::kReplicantKeep, S::kMaster, A::kRefuse, E::kState,
       {"master's data", "nowhere else", "unset REPLICATE_FROM", kDiscard}, {}},
      {Kind::kReplicantKeep, S::kForeignPostgres, A::kRefuse, E::kState,
       {"master's data", "nowhere else", "unset REPLICATE_FROM", kDiscard}, {}},
      {Kind::kReplicantKeep, S::kWrongVersion, A::kRefuse, E::kState, wrong_version, {}},
      {Kind::kReplicantKeep, S::kHalfMade, A::kRefuse, E::kState, half_made, {}},
      {Kind::kReplicantKeep, S::kNotPostgres, A::kRefuse, E::kState, not_postgres, {}},
      {Kind::kReplicantKeep, S::kRewindInterrupted, A::kReclone, E::kOk, recopy_rewound, {}},

      // -------- PROMOTE_MASTER=True, REPLICATE_FROM still set (destroy defaults to True)
      {Kind::kPromoteReplicant, S::kEmpty, A::kRefuse, E::kConfig,
       {"PROMOTE_MASTER is set", "empty", "nothing to promote", "unset PROMOTE_MASTER"}, {}},
      {Kind::kPromoteReplicant, S::kMaster, A::kRefuse, E::kConfig,
       {"PROMOTE_MASTER is set", "already belongs to a master", "nothing to promote",
        "unset PROMOTE_MASTER"}, {}},
      {Kind::kPromoteReplicant, S::kStandby, A::kPromote, E::kOk,
       {"promote this replicant's own data", "whether or not the old master is reachable",
        "DESTROY_DATABASE_ON_RESTART is ignored"}, {}},
      {Kind::kPromoteReplicant, S::kPromoted, A::kStartMaster, E::kOk,
       {"start as master", "promoted already", "DESTROY_DATABASE_ON_RESTART is ignored"}, {}},
      {Kind::kPromoteReplicant, S::kForeignPostgres, A::kRefuse, E::kConfig,
       {"already belongs to a master", "nothing to promote"}, {}},
      {Kind::kPromoteReplicant, S::kWrongVersion, A::kRefuse, E::kState, wrong_version, {}},
      {Kind::kPromoteReplicant, S::kHalfMade, A::kRefuse, E::kState, half_made, {}},
      {Kind::kPromoteReplicant, S::kNotPostgres, A::kRefuse, E::kState, not_postgres, {}},
      {Kind::kPromoteReplicant, S::kRewindInterrupted, A::kRefuse, E::kState, rewound, {}},

      // -------- PROMOTE_MASTER=True, REPLICATE_FROM unset
      {Kind::kPromoteAlone, S::kEmpty, A::kRefuse, E::kConfig,
       {"empty", "nothing to promote", "unset PROMOTE_MASTER"}, {}},
      {Kind::kPromoteAlone, S::kMaster, A::kRefuse, E::kConfig,
       {"already belongs to a master", "nothing to promote"}, {}},
      {Kind::kPromoteAlone, S::kStandby, A::kPromote, E::kOk,
       {"promote this replicant's own data", "whether or not the old master is reachable"},
       {"DESTROY_DATABASE_ON_RESTART"}},
      {Kind::kPromoteAlone, S::kPromoted, A::kStartMaster, E::kOk,
       {"start as master", "promoted already"}, {"DESTROY_DATABASE_ON_RESTART"}},
      {Kind::kPromoteAlone, S::kForeignPostgres, A::kRefuse, E::kConfig,
       {"already belongs to a master", "nothing to promote"}, {}},
      {Kind::kPromoteAlone, S::kWrongVersion, A::kRefuse, E::kState, wrong_version, {}},
      {Kind::kPromoteAlone, S::kHalfMade, A::kRefuse, E::kState, half_made, {}},
      {Kind::kPromoteAlone, S::kNotPostgres, A::kRefuse, E::kState, not_postgres, {}},
      {Kind::kPromoteAlone, S::kRewindInterrupted, A::kRefuse, E::kState, rewound, {}},

      // -------- replicant, ALLOW_REJOIN=True (DESTROY_DATABASE_ON_RESTART defaults to True)
      {Kind::kReplicantRejoin, S::kEmpty, A::kClone, E::kOk, {"clone the master pg-master:5432"}, {}},
      {Kind::kReplicantRejoin, S::kMaster, A::kRejoin, E::kOk, rejoin, {}},
      {Kind::kReplicantRejoin, S::kStandby, A::kReclone, E::kOk, {"fresh copy", "pg-master:5432"}, {}},
      {Kind::kReplicantRejoin, S::kPromoted, A::kRejoin, E::kOk, rejoin, {}},
      {Kind::kReplicantRejoin, S::kForeignPostgres, A::kRejoin, E::kOk, rejoin, {}},
      {Kind::kReplicantRejoin, S::kWrongVersion, A::kRefuse, E::kState, wrong_version, {}},
      {Kind::kReplicantRejoin, S::kHalfMade, A::kRefuse, E::kState, half_made, {}},
      {Kind::kReplicantRejoin, S::kNotPostgres, A::kRefuse, E::kState, not_postgres, {}},
      {Kind::kReplicantRejoin, S::kRewindInterrupted, A::kReclone, E::kOk, recopy_rewound, {}},
  };
  return *table;
}

void PrintTo(const Cell& c, std::ostream* os) {
  *os << KindName(c.kind) << " x " << StateName(c.state);
}

class DecisionTable : public ::testing::TestWithParam<Cell> {};

TEST_P(DecisionTable, ChoosesTheActionExitCodeAndReason) {
  const Cell& cell = GetParam();
  Plan plan = Decide(ConfigOf(cell.kind), cell.state);
  EXPECT_EQ(ActionName(plan.action), std::string(ActionName(cell.action)));
  EXPECT_EQ(plan.refuse_code, cell.code);
  for (const auto& w : cell.words) EXPECT_THAT(plan.reason, HasSubstr(w));
  for (const auto& w : cell.absent) EXPECT_THAT(plan.reason, Not(HasSubstr(w)));
  // Logged as one line "decision: <reason>", and never with a secret.
  EXPECT_FALSE(plan.reason.empty());
  EXPECT_THAT(plan.reason, Not(HasSubstr("\n")));
  EXPECT_THAT(plan.reason, Not(HasSubstr(kPassword)));
}

INSTANTIATE_TEST_SUITE_P(Decide, DecisionTable, ::testing::ValuesIn(Table()),
                         [](const ::testing::TestParamInfo<Cell>& info) {
                           return std::string(KindName(info.param.kind)) + "_" +
                                  StateName(info.param.state);
                         });

TEST(DecisionTableShape, HasExactlyOneCellForEveryConfigurationAndState) {
  std::map<std::pair<Kind, DataDirState>, int> count;
  for (const auto& c : Table()) ++count[{c.kind, c.state}];
  for (Kind k : kKinds) {
    for (DataDirState s : kStates) {
      EXPECT_EQ((count[{k, s}]), 1) << KindName(k) << " x " << StateName(s);
    }
  }
  EXPECT_EQ(Table().size(), std::size(kKinds) * std::size(kStates));
}

// ---------------------------------------------------------------- properties across the table

TEST(Decide, ARefusalIsTheOnlyPlanWithANonZeroExitCode) {
  for (Kind k : kKinds) {
    for (DataDirState s : kStates) {
      Plan p = Decide(ConfigOf(k), s);
      EXPECT_EQ(p.action == Action::kRefuse, p.refuse_code != ExitCode::kOk)
          << KindName(k) << " x " << StateName(s);
    }
  }
}

TEST(Decide, DataThatMayHoldUniqueWritesIsNeverReplacedByACopy) {
  for (Kind k : kKinds) {
    for (DataDirState s : {DataDirState::kMaster, DataDirState::kPromoted,
                           DataDirState::kForeignPostgres, DataDirState::kWrongVersion,
                           DataDirState::kHalfMade, DataDirState::kNotPostgres}) {
      Plan p = Decide(ConfigOf(k), s);
      EXPECT_NE(p.action, Action::kClone) << KindName(k) << " x " << StateName(s);
      EXPECT_NE(p.action, Action::kReclone) << KindName(k) << " x " << StateName(s);
      EXPECT_NE(p.action, Action::kInitMaster) << KindName(k) << " x " << StateName(s);
    }
  }
}

TEST(Decide, OnlyAnEmptyDirectoryIsInitialisedOrCloned) {
  for (Kind k : kKinds) {
    for (DataDirState s : kStates) {
      Plan p = Decide(ConfigOf(k), s);
      if (p.action == Action::kInitMaster || p.action == Action::kClone) {
        EXPECT_EQ(s, DataDirState::kEmpty) << KindName(k) << " x " << StateName(s);
      }
    }
  }
}

TEST(Decide, ReasonsNameTheConfiguredDataDirectory) {
  Config c = ConfigOf(Kind::kReplicantDestroy);
  c.pgdata = "/srv/pg/data";
  Plan p = Decide(c, DataDirState::kPromoted);
  EXPECT_THAT(p.reason, HasSubstr("delete the contents of /srv/pg/data"));
  p = Decide(c, DataDirState::kWrongVersion);
  EXPECT_THAT(p.reason, HasSubstr("/srv/pg/data"));
}

TEST(Decide, ReplicantReasonsNameTheMastersHostAndPort) {
  Config c = ConfigOf(Kind::kReplicantKeep);
  c.replicate_from = "10.1.2.3";
  c.replicate_port = 6543;
  EXPECT_THAT(Decide(c, DataDirState::kEmpty).reason, HasSubstr("10.1.2.3:6543"));
  EXPECT_THAT(Decide(c, DataDirState::kStandby).reason, HasSubstr("10.1.2.3:6543"));
  EXPECT_THAT(Decide(c, DataDirState::kMaster).reason, HasSubstr("10.1.2.3:6543"));
}

TEST(Decide, PromotingWithDestroyFalseDoesNotMentionTheIgnoredSetting) {
  Config c = ConfigOf(Kind::kPromoteReplicant);
  c.destroy_on_restart = false;
  Plan p = Decide(c, DataDirState::kStandby);
  EXPECT_EQ(p.action, Action::kPromote);
  EXPECT_THAT(p.reason, Not(HasSubstr("DESTROY_DATABASE_ON_RESTART")));
}

TEST(Decide, PromoteMasterWinsOverDestroyOnRestart) {
  Config c = ConfigOf(Kind::kPromoteReplicant);
  c.destroy_on_restart = true;
  EXPECT_EQ(Decide(c, DataDirState::kStandby).action, Action::kPromote);
  EXPECT_EQ(Decide(c, DataDirState::kPromoted).action, Action::kStartMaster);
}

TEST(ActionName, NamesEveryActionDistinctly) {
  std::set<std::string> names;
  for (Action a : {Action::kInitMaster, Action::kStartMaster, Action::kClone, Action::kReclone,
                   Action::kResumeStandby, Action::kPromote, Action::kRejoin, Action::kRefuse}) {
    std::string n = ActionName(a);
    EXPECT_NE(n, "?");
    EXPECT_TRUE(names.insert(n).second) << n;
  }
  EXPECT_STREQ(ActionName(Action::kRefuse), "refuse");
  EXPECT_STREQ(ActionName(Action::kReclone), "reclone");
}

// ---------------------------------------------------------------- DecideStalled

constexpr int64_t kMB = 1024 * 1024;

TEST(DecideStalled, AFreshCopyThatFitsBesideTheDataIsTaken) {
  Config c = ConfigOf(Kind::kReplicantKeep);
  Plan p = DecideStalled(c, {1000 * kMB, 2000 * kMB});
  EXPECT_EQ(p.action, Action::kReclone);
  EXPECT_EQ(p.reason,
            "take a fresh copy of pg-master:5432: it no longer has WAL this replicant needs "
            "(about 1164 MB needed beside the 1000 MB of data, 2000 MB free); the existing "
            "data stays until the copy is complete");
  EXPECT_EQ(p.refuse_code, ExitCode::kOk);
}

TEST(DecideStalled, WithoutRoomForTwoCopiesTheReplicantStaysAndSaysWhatToDo) {
  Config c = ConfigOf(Kind::kReplicantDestroy);
  Plan p = DecideStalled(c, {1000 * kMB, 1100 * kMB});
  EXPECT_EQ(p.action, Action::kRefuse);
  EXPECT_THAT(p.reason, HasSubstr("cannot hold two copies (about 1164 MB needed beside the "
                                  "1000 MB of data, 1100 MB free)"));
  EXPECT_THAT(p.reason, HasSubstr("give it more room"));
  EXPECT_THAT(p.reason, HasSubstr(kDiscard));
}

TEST(DecideStalled, AForkedTimelineIsNamedAsTheReason) {
  Config c = ConfigOf(Kind::kReplicantKeep);
  StallFacts f{1000 * kMB, 2000 * kMB, true};
  Plan p = DecideStalled(c, f);
  EXPECT_EQ(p.action, Action::kReclone);
  EXPECT_THAT(p.reason, HasSubstr("take a fresh copy of pg-master:5432: its timeline forked off "
                                  "before the position this replicant has replayed"));
  f.free_bytes = 10 * kMB;
  EXPECT_THAT(DecideStalled(c, f).reason,
              HasSubstr("although its timeline forked off before the position"));
}

TEST(DecideStalled, TheMarginIsATenthAndSixtyFourMegabytes) {
  EXPECT_EQ(FreshCopyBytes(0), 64 * kMB);
  EXPECT_EQ(FreshCopyBytes(100 * kMB), 174 * kMB);
  Config c = ConfigOf(Kind::kReplicantKeep);
  EXPECT_EQ(DecideStalled(c, {100 * kMB, 174 * kMB}).action, Action::kReclone);
  EXPECT_EQ(DecideStalled(c, {100 * kMB, 174 * kMB - 1}).action, Action::kRefuse);
}

// ---------------------------------------------------------------- after a crash

TEST(DecideAfterCrash, RestartsInPlaceWithAPauseThatDoubles) {
  std::vector<int> delays;
  for (int crashes = 1; crashes <= kMaxRestarts; ++crashes) {
    CrashPlan p = DecideAfterCrash(crashes, "signal 9");
    EXPECT_TRUE(p.restart) << crashes;
    delays.push_back(p.delay_ms);
  }
  EXPECT_EQ(delays, (std::vector<int>{1000, 2000, 4000, 8000, 16000}));
  CrashPlan first = DecideAfterCrash(1, "signal 9");
  EXPECT_EQ(first.reason,
            "postgres exited unexpectedly (signal 9); starting it again in place in 1 s "
            "(restart 1 of at most 5 in 10 minutes)");
}

TEST(DecideAfterCrash, GivesUpBeyondTheLimitSoTheRestartPolicyTakesOver) {
  CrashPlan p = DecideAfterCrash(kMaxRestarts + 1, "exit code 1");
  EXPECT_FALSE(p.restart);
  EXPECT_THAT(p.reason, HasSubstr("(exit code 1) for the 6th time in 10 minutes; giving up"));
  EXPECT_THAT(p.reason, HasSubstr("restart policy"));
}

TEST(DecideAfterCrash, AFullDiskWaitsForSpaceAndDoesNotCount) {
  constexpr int64_t kMB = 1024 * 1024;
  DiskFacts disk{"/var/lib/postgresql/data", true, 3 * kMB, 512 * kMB};
  // Even past the limit: a full disk is a person's to fix, not a reason to give up.
  CrashPlan p = DecideAfterCrash(kMaxRestarts + 3, "exit code 1", disk);
  EXPECT_TRUE(p.restart);
  EXPECT_FALSE(p.counted);
  EXPECT_EQ(p.wait_free_bytes, kDiskResumeBytes);
  EXPECT_EQ(p.reason,
            "postgres stopped (exit code 1) because the disk holding /var/lib/postgresql/data is "
            "full (3 MB free of 512 MB): free space on that volume or give it more room; pgkeeper "
            "starts postgres again by itself once 64 MB are free (a full disk does not count "
            "toward the restart limit)");
}

TEST(DecideAfterCrash, AlmostNoRoomIsAFullDiskEvenWithoutPostgresSayingSo) {
  constexpr int64_t kMB = 1024 * 1024;
  EXPECT_GT(DecideAfterCrash(1, "exit code 1", {"/d", false, kMB, -1}).wait_free_bytes, 0);
  // Room enough: an ordinary crash, counted, though postgres once said the disk was full.
  CrashPlan roomy = DecideAfterCrash(1, "signal 9", {"/d", true, 100 * kMB, 200 * kMB});
  EXPECT_TRUE(roomy.counted);
  EXPECT_EQ(roomy.wait_free_bytes, 0);
  // Between the two marks, postgres' own word decides.
  EXPECT_EQ(DecideAfterCrash(1, "signal 9", {"/d", false, 32 * kMB, -1}).wait_free_bytes, 0);
  EXPECT_GT(DecideAfterCrash(1, "exit code 1", {"/d", true, 32 * kMB, -1}).wait_free_bytes, 0);
  // Not measured: never taken for full.
  EXPECT_TRUE(DecideAfterCrash(1, "exit code 1", {"/d", true, -1, -1}).counted);
}

}  // namespace
}  // namespace pgkeeper

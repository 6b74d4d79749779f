#include "postgresql/sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgkeeper {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ReplicantInfo Rep(const std::string& state, double reply_age, const std::string& name = "r") {
  return ReplicantInfo{name, "10.0.0.2", state, 0, 0, "quorum", reply_age};
}

SlotInfo Slot(const std::string& name, bool temporary = false) {
  SlotInfo s;
  s.name = name;
  s.temporary = temporary;
  return s;
}

TEST(StandbyNames, AnyNOfTheNamedReplicantsOrNothing) {
  EXPECT_EQ(StandbyNamesFor({0, {}}), "");
  EXPECT_EQ(StandbyNamesFor({1, {"pg_replicant"}}), "ANY 1 (\"pg_replicant\")");
  EXPECT_EQ(StandbyNamesFor({2, {"a", "b", "c"}}), "ANY 2 (\"a\", \"b\", \"c\")");
}

TEST(StandbyNames, NobodyNamedYetIsANameNoReplicantStreamsUnder) {
  EXPECT_EQ(StandbyNamesFor({1, {}}), "ANY 1 (\"pgkeeper-none\")");
  // pgkeeper's replicants stream under letters, digits and '_' only.
  EXPECT_FALSE(IsListed("pgkeeper_none", ParseStandbyNames("ANY 1 (\"pgkeeper-none\")").names));
}

TEST(StandbyNames, ParsesWhatPgkeeperWritesAndFlagsAnythingElse) {
  for (const StandbyList& l : {StandbyList{0, {}}, StandbyList{1, {}}, StandbyList{1, {"a"}},
                               StandbyList{10, {"a_1", "b", "pg_2"}}}) {
    EXPECT_EQ(ParseStandbyNames(StandbyNamesFor(l)), l) << StandbyNamesFor(l);
  }
  for (const char* by_hand :
       {"ANY 1 (*)", "FIRST 1 (a, b)", "*", "ANY 0 (\"a\")", "ANY 1 (a)", "ANY 1 (\"a\",\"b\")",
        "ANY 1 (\"b\", \"a\")", "ANY 1 (\"pgkeeper-none\", \"a\")", "ANY 1 (\"a-b\")",
        "ANY 1 (\"a\") x", "ANY 1 ()", "ANY (\"a\")"}) {
    EXPECT_EQ(ParseStandbyNames(by_hand).n, -1) << by_hand;
  }
}

TEST(EligibleReplicants, ThePermanentSlotsSorted) {
  EXPECT_THAT(EligibleReplicants({Slot("pg_3"), Slot("pg_basebackup_42", true), Slot("pg_2")}),
              ElementsAre("pg_2", "pg_3"));
  EXPECT_TRUE(EligibleReplicants({}).empty());
}

TEST(CountSyncCandidates, OnlyNamedStreamingReplicantsHeardFromLately) {
  std::vector<ReplicantInfo> reps = {
      Rep("streaming", 0.5),                          // counts
      Rep("streaming", kSyncReplyMaxAgeSeconds),      // counts: at the limit
      Rep("streaming", kSyncReplyMaxAgeSeconds + 1),  // silent too long: gone, maybe
      Rep("streaming", -1),                           // never answered
      Rep("catchup", 0.1),                            // still behind
      Rep("backup", 0.1),                             // a pg_basebackup
  };
  EXPECT_EQ(CountSyncCandidates(reps, {"r"}), 2);
  EXPECT_EQ(CountSyncCandidates(reps, {}), 0);
  EXPECT_EQ(CountSyncCandidates({}, {"r"}), 0);
}

TEST(CountSyncCandidates, WalThatLeavesWithoutBeingAReplicantsNeverCounts) {
  // Each streams, answers and reports what it flushed, and none is a
  // replicant that could take over: a clone's WAL stream (pg_basebackup -X
  // stream through the new replicant's own slot), pg_receivewal, a plain
  // pg_basebackup, pgkeeper's slot and rejoin connections.
  std::vector<ReplicantInfo> reps;
  for (const char* name : {"pgkeeper_clone", "pg_receivewal", "pg_basebackup", "pgkeeper_slot",
                           "pgkeeper_rejoin", "walreceiver"}) {
    reps.push_back(Rep("streaming", 0.1, name));
  }
  EXPECT_EQ(CountSyncCandidates(reps, {"pg_replicant"}), 0);
  reps.push_back(Rep("streaming", 0.1, "pg_replicant"));
  EXPECT_EQ(CountSyncCandidates(reps, {"pg_replicant"}), 1);
}

struct SyncRow {
  int required;
  bool available;
  int candidates;
  int current;
  int want;
  const char* reason_part;  // "" when nothing changes
};

class DecideSyncTable : public ::testing::TestWithParam<SyncRow> {};

TEST_P(DecideSyncTable, AsksForWhatTheModeAllows) {
  const SyncRow& r = GetParam();
  const std::vector<std::string> named = {"a", "b"};
  StandbyList current{r.current, r.current > 0 ? named : std::vector<std::string>{}};
  SyncDecision d = DecideSync(r.required, r.available, named, r.candidates, current);
  EXPECT_EQ(d.list.n, r.want);
  EXPECT_EQ(d.list.names, r.want > 0 ? named : std::vector<std::string>{});
  EXPECT_EQ(d.change, r.want != r.current);
  if (d.change) {
    EXPECT_THAT(d.reason, HasSubstr(r.reason_part));
  } else {
    EXPECT_EQ(d.reason, "");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, DecideSyncTable,
    ::testing::Values(
        // Asynchronous: nothing to do, ever.
        SyncRow{0, false, 0, 0, 0, ""}, SyncRow{0, true, 3, 0, 0, ""},
        // Strict keeps the requirement whoever streams.
        SyncRow{1, false, 0, 1, 1, ""}, SyncRow{2, false, 1, 2, 2, ""},
        SyncRow{2, false, 0, 0, 2, "SYNCHRONOUS_MODE=strict"},
        // Available lowers to what streams, to none at worst...
        SyncRow{1, true, 0, 1, 0, "lowered to off"},
        SyncRow{2, true, 1, 2, 1, "only 1 of 2 required replicants streams"},
        // ...and raises again, never above the requirement.
        SyncRow{1, true, 1, 0, 1, "raised to ANY 1"}, SyncRow{2, true, 5, 1, 2, "again"},
        SyncRow{2, true, 2, 2, 2, ""}));

TEST(DecideSync, LoweringSaysWhatAnAcknowledgedCommitNoLongerPromises) {
  SyncDecision d = DecideSync(1, true, {"a"}, 0, {1, {"a"}});
  EXPECT_THAT(d.reason, HasSubstr("commits acknowledged from now on may exist on fewer than 2 nodes"));
}

TEST(DecideSync, ASlotMadeOrDroppedRenamesWhoMayConfirmInEitherMode) {
  for (bool available : {false, true}) {
    // A strict master's first look at its slots.
    SyncDecision d = DecideSync(1, available, {"pg_2"}, 1, {1, {}});
    EXPECT_TRUE(d.change);
    EXPECT_EQ(d.list, (StandbyList{1, {"pg_2"}}));
    EXPECT_THAT(d.reason, HasSubstr("replicants that may confirm a commit: pg_2"));
    // A second replicant made its slot.
    d = DecideSync(1, available, {"pg_2", "pg_3"}, 1, {1, {"pg_2"}});
    EXPECT_EQ(d.list, (StandbyList{1, {"pg_2", "pg_3"}}));
    EXPECT_EQ(d.reason, "replicants that may confirm a commit: pg_2, pg_3 (this node's "
                        "replication slots; a clone's stream or any other connection never counts)");
    // Every slot dropped: nobody may confirm, and strict commits wait.
    d = DecideSync(1, false, {}, 0, {1, {"pg_2"}});
    EXPECT_EQ(d.list, (StandbyList{1, {}}));
    EXPECT_THAT(d.reason, HasSubstr("none (no replicant has a slot here yet)"));
  }
}

TEST(DecideSync, AvailableModeWithNothingAskedNamesNobody) {
  SyncDecision d = DecideSync(1, true, {"pg_2"}, 0, {0, {}});
  EXPECT_FALSE(d.change) << d.reason;
  EXPECT_EQ(StandbyNamesFor(d.list), "");
}

TEST(DecideSync, RaisingAndNamingAtOnceSaysBoth) {
  SyncDecision d = DecideSync(1, true, {"pg_2"}, 1, {0, {}});
  EXPECT_EQ(d.list, (StandbyList{1, {"pg_2"}}));
  EXPECT_THAT(d.reason, HasSubstr("raised to ANY 1"));
  EXPECT_THAT(d.reason, HasSubstr("; replicants that may confirm a commit: pg_2"));
}

TEST(InitialSyncList, StrictAsksForAllOfNobodyYetAvailableForNone) {
  EXPECT_EQ(InitialSyncList(2, false), (StandbyList{2, {}}));
  EXPECT_EQ(InitialSyncList(2, true), (StandbyList{0, {}}));
  EXPECT_EQ(InitialSyncList(0, false), (StandbyList{0, {}}));
}

}  // namespace
}  // namespace pgkeeper

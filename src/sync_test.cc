#include "sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;

ReplicantInfo Rep(const std::string& state, double reply_age, const std::string& name = "r") {
  return ReplicantInfo{name, "10.0.0.2", state, 0, 0, "quorum", reply_age};
}

TEST(StandbyNames, AnyNOfAllReplicantsOrNothing) {
  EXPECT_EQ(StandbyNamesFor(0), "");
  EXPECT_EQ(StandbyNamesFor(1), "ANY 1 (*)");
  EXPECT_EQ(StandbyNamesFor(3), "ANY 3 (*)");
}

TEST(StandbyNames, ParsesWhatPgkeeperWritesAndFlagsAnythingElse) {
  EXPECT_EQ(ParseStandbyNames(""), 0);
  EXPECT_EQ(ParseStandbyNames("ANY 1 (*)"), 1);
  EXPECT_EQ(ParseStandbyNames("ANY 10 (*)"), 10);
  EXPECT_EQ(ParseStandbyNames("FIRST 1 (a, b)"), -1);
  EXPECT_EQ(ParseStandbyNames("*"), -1);
  EXPECT_EQ(ParseStandbyNames("ANY 0 (*)"), -1);
}

TEST(CountSyncCandidates, OnlyStreamingReplicantsHeardFromLately) {
  std::vector<ReplicantInfo> reps = {
      Rep("streaming", 0.5),                          // counts
      Rep("streaming", kSyncReplyMaxAgeSeconds),      // counts: at the limit
      Rep("streaming", kSyncReplyMaxAgeSeconds + 1),  // silent too long: gone, maybe
      Rep("streaming", -1),                           // never answered
      Rep("catchup", 0.1),                            // still behind
      Rep("backup", 0.1),                             // a pg_basebackup
  };
  reps.push_back(Rep("streaming", 0.1, "pg_basebackup"));  // a clone's WAL stream
  EXPECT_EQ(CountSyncCandidates(reps), 2);
  EXPECT_EQ(CountSyncCandidates({}), 0);
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
  SyncDecision d = DecideSync(r.required, r.available, r.candidates, r.current);
  EXPECT_EQ(d.replicants, r.want);
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
  SyncDecision d = DecideSync(1, true, 0, 1);
  EXPECT_THAT(d.reason, HasSubstr("commits acknowledged from now on may exist on fewer than 2 nodes"));
}

TEST(InitialSyncReplicants, StrictAsksForAllAvailableForNoneUntilTheyStream) {
  EXPECT_EQ(InitialSyncReplicants(2, false), 2);
  EXPECT_EQ(InitialSyncReplicants(2, true), 0);
  EXPECT_EQ(InitialSyncReplicants(0, false), 0);
}

}  // namespace
}  // namespace pgkeeper

#include "cluster/election.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cluster/election_fixtures.h"

namespace pgkeeper {
namespace {

using fixtures::Member;

using ::testing::HasSubstr;

// A three-node cluster seen from n2, a replicant with data, leader n1 alive.
ElectionFacts Base() {
  ElectionFacts f;
  f.self = "n2";
  f.etcd_ok = true;
  f.leader = "n1";
  f.initialized = true;
  f.members = {Member("n1", 1000), Member("n2", 900), Member("n3", 800)};
  f.last_leader_lsn = 1000;
  f.now_ms = 100000;
  f.renew_sent_ms = 99500;
  f.ttl_ms = 3000;
  f.fence_margin_ms = 1000;
  f.has_data = true;
  return f;
}

ElectionFacts Master() {
  ElectionFacts f = Base();
  f.self = "n1";
  f.writable = true;
  return f;
}

struct Row {
  const char* name;
  ElectionFacts facts;
  ElectionAction action;
  const char* sentence;  // part of the logged reason
};

class DecideElectionTable : public ::testing::TestWithParam<Row> {};

TEST_P(DecideElectionTable, ChoosesTheActionAndSaysWhy) {
  const Row& r = GetParam();
  ElectionDecision d = DecideElection(r.facts);
  EXPECT_EQ(ElectionActionName(d.action), std::string(ElectionActionName(r.action))) << d.why;
  EXPECT_THAT(d.why, HasSubstr(r.sentence));
}

ElectionFacts With(ElectionFacts f, void (*change)(ElectionFacts&)) {
  change(f);
  return f;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, DecideElectionTable,
    ::testing::Values(
        Row{"MasterHoldingTheKeyRenews", Master(), ElectionAction::kLead,
            "holds the leader key: renew"},
        Row{"MasterCutFromEtcdKeepsWritingUntilTheFenceDeadline",
            With(Master(), [](ElectionFacts& f) { f.etcd_ok = false; f.renew_sent_ms = 98500; }),
            ElectionAction::kLead, "writes go on for 500 ms more"},
        Row{"MasterCutFromEtcdFencesAtTtlLessMargin",
            With(Master(), [](ElectionFacts& f) { f.etcd_ok = false; f.renew_sent_ms = 98000; }),
            ElectionAction::kFence, "no renewal of the lease acknowledged for 2000 ms"},
        Row{"MasterThatNeverRenewedFences",
            With(Master(), [](ElectionFacts& f) { f.etcd_ok = false; f.renew_sent_ms = -1; }),
            ElectionAction::kFence, "acknowledged for ever"},
        Row{"MasterSeeingAnotherLeaderFences",
            With(Master(), [](ElectionFacts& f) { f.leader = "n3"; }), ElectionAction::kFence,
            "n3 holds the leader key"},
        Row{"MasterWhoseKeyVanishedFences",
            With(Master(), [](ElectionFacts& f) { f.leader = ""; }), ElectionAction::kFence,
            "the leader key is gone"},
        Row{"ReplicantFollowsTheLeader", Base(), ElectionAction::kFollow,
            "replicate from the leader n1"},
        Row{"ReplicantCutFromEtcdNeverPromotes",
            With(Base(), [](ElectionFacts& f) { f.etcd_ok = false; f.leader = ""; }),
            ElectionAction::kWait, "never promotes"},
        Row{"TheReplicantWithTheMostWalTakesOver",
            With(Base(), [](ElectionFacts& f) { f.leader = ""; f.members.erase(f.members.begin()); }),
            ElectionAction::kTakeOver, "most WAL of the eligible members (900)"},
        Row{"AReplicantWithLessWalWaitsForTheBest",
            With(Base(), [](ElectionFacts& f) { f.self = "n3"; f.leader = ""; f.members.erase(f.members.begin()); }),
            ElectionAction::kWait, "n2 has the most WAL"},
        Row{"EqualWalGoesToTheLowestName",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n3"; f.leader = ""; f.members = {Member("n3", 900), Member("n2", 900)};
            }),
            ElectionAction::kWait, "n2 has the most WAL"},
        Row{"AReplicantTooFarBehindDoesNotTakeOver",
            With(Base(), [](ElectionFacts& f) {
              f.leader = ""; f.members = {Member("n2", 900)}; f.max_lag_bytes = 50;
            }),
            ElectionAction::kWait, "100 bytes behind the last leader's position (at most 50)"},
        Row{"InSynchronousModeOnlyASynchronousReplicantTakesOver",
            With(Base(), [](ElectionFacts& f) {
              f.leader = ""; f.synchronous_mode = true;
              f.members = {Member("n2", 1000), Member("n3", 800, true)};
            }),
            ElectionAction::kWait, "only a synchronous replicant may take over"},
        Row{"TheSynchronousOneTakesOverEvenWithLessWal",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n3"; f.leader = ""; f.synchronous_mode = true;
              f.members = {Member("n2", 1000), Member("n3", 800, true)};
            }),
            ElectionAction::kTakeOver, "take the leader key, then promote"},
        Row{"HoldingTheKeyWhileReadOnlyPromotes",
            With(Base(), [](ElectionFacts& f) { f.leader = "n2"; }), ElectionAction::kPromote,
            "promote"},
        Row{"TheFirstNodeOfANewClusterBootstraps",
            With(Base(), [](ElectionFacts& f) {
              f.leader = ""; f.initialized = false; f.has_data = false; f.members.clear();
            }),
            ElectionAction::kBootstrap, "no cluster yet"},
        Row{"OthersWaitWhileTheFirstInitialises",
            With(Base(), [](ElectionFacts& f) { f.initialized = false; f.has_data = false; }),
            ElectionAction::kWait, "n1 is initialising the cluster"},
        Row{"ANodeWithoutDataFollowsAnInitialisedCluster",
            With(Base(), [](ElectionFacts& f) { f.has_data = false; }), ElectionAction::kFollow,
            "replicate from the leader n1"},
        Row{"ANodeWithoutDataNeverTakesOver",
            With(Base(), [](ElectionFacts& f) { f.leader = ""; f.has_data = false; }),
            ElectionAction::kWait, "no data to promote"},
        Row{"AMasterAskedToSwitchOverStepsDown",
            With(Master(), [](ElectionFacts& f) { f.switchover_from = "n1"; f.switchover_to = "n2"; }),
            ElectionAction::kStepDown, "a switchover was asked to n2"},
        Row{"ASwitchoverWaitsUntilTheOtherReplicantsFollowTheTarget",
            With(Master(), [](ElectionFacts& f) {
              f.switchover_from = "n1"; f.switchover_to = "n2"; f.switchover_age_ms = 400;
              f.members = {Member("n1", 1000, false, true, "h1:5432", ""),
                           Member("n2", 900, false, false, "h2:5432", "h1:5432"),
                           Member("n3", 800, false, false, "h3:5432", "h1:5432")};
            }),
            ElectionAction::kLead,
            "writes go on until the other replicants stream from it (not yet: n3; for at most "
            "3000 ms)"},
        Row{"ASwitchoverStepsDownOnceTheOthersFollowTheTarget",
            With(Master(), [](ElectionFacts& f) {
              f.switchover_from = "n1"; f.switchover_to = "n2"; f.switchover_age_ms = 400;
              f.members = {Member("n1", 1000, false, true, "h1:5432", ""),
                           Member("n2", 900, false, false, "h2:5432", "h1:5432"),
                           Member("n3", 800, false, false, "h3:5432", "h2:5432", "h2:5432")};
            }),
            ElectionAction::kStepDown, "a switchover was asked to n2"},
        Row{"ASwitchoverWaitsUntilTheyStreamFromTheTargetNotJustPointAtIt",
            With(Master(), [](ElectionFacts& f) {
              f.switchover_from = "n1"; f.switchover_to = "n2"; f.switchover_age_ms = 400;
              f.members = {Member("n1", 1000, false, true, "h1:5432", ""),
                           Member("n2", 900, false, false, "h2:5432", "h1:5432"),
                           Member("n3", 800, false, false, "h3:5432", "h2:5432", "")};
            }),
            ElectionAction::kLead, "(not yet: n3;"},
        Row{"ASwitchoverWaitsForTheOthersOnlySoLong",
            With(Master(), [](ElectionFacts& f) {
              f.switchover_from = "n1"; f.switchover_to = "n2"; f.switchover_age_ms = 3000;
              f.members = {Member("n1", 1000, false, true, "h1:5432", ""),
                           Member("n2", 900, false, false, "h2:5432", "h1:5432"),
                           Member("n3", 800, false, false, "h3:5432", "h1:5432")};
            }),
            ElectionAction::kStepDown, "a switchover was asked to n2"},
        Row{"InStrictModeASwitchoverDoesNotWaitForReplicantsItsCommitsNeed",
            With(Master(), [](ElectionFacts& f) {
              f.switchover_from = "n1"; f.switchover_to = "n2"; f.switchover_age_ms = 400;
              f.synchronous_mode = true; f.sync_required = 2;
              f.members = {Member("n1", 1000, false, true, "h1:5432", ""),
                           Member("n2", 900, true, false, "h2:5432", "h1:5432"),
                           Member("n3", 800, true, false, "h3:5432", "h1:5432")};
            }),
            ElectionAction::kStepDown, "a switchover was asked to n2"},
        Row{"ASwitchoverToAStrangerIsIgnored",
            With(Master(), [](ElectionFacts& f) { f.switchover_from = "n1"; f.switchover_to = "n9"; }),
            ElectionAction::kLead, "n9 is not a live member"},
        Row{"TheSwitchoverTargetTakesOverOnceItHasEverything",
            With(Base(), [](ElectionFacts& f) {
              f.leader = ""; f.switchover_from = "n1"; f.switchover_to = "n2";
              f.members = {Member("n2", 1000), Member("n3", 1000)};
            }),
            ElectionAction::kTakeOver, "take the leader key"},
        Row{"TheSwitchoverTargetWaitsUntilItHasEverything",
            With(Base(), [](ElectionFacts& f) {
              f.leader = ""; f.switchover_from = "n1"; f.switchover_to = "n2";
              f.members = {Member("n2", 990), Member("n3", 1000)};
            }),
            ElectionAction::kWait, "until it has received everything"},
        Row{"OthersKeepFollowingTheSwitchoverTargetBetweenLeaders",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n3"; f.leader = ""; f.switchover_from = "n1"; f.switchover_to = "n2";
              f.members = {Member("n2", 990), Member("n3", 1000)};
            }),
            ElectionAction::kFollow, "a switchover to n2 was asked: replicate from it already"},
        Row{"OthersFollowTheSwitchoverTargetAsSoonAsItIsAsked",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n3"; f.switchover_from = "n1"; f.switchover_to = "n2";
            }),
            ElectionAction::kFollow, "a switchover to n2 was asked: replicate from it already"},
        Row{"TheSwitchoverTargetFollowsTheLeaderUntilItTakesOver",
            With(Base(), [](ElectionFacts& f) {
              f.switchover_from = "n1"; f.switchover_to = "n2";
            }),
            ElectionAction::kFollow, "replicate from the leader n1"},
        Row{"ANamelessSwitchoverLeavesTheReplicantsWithTheLeader",
            With(Base(), [](ElectionFacts& f) { f.self = "n3"; f.switchover_from = "n1"; }),
            ElectionAction::kFollow, "replicate from the leader n1"},
        Row{"InStrictModeOthersStayWhileTheOldLeaderNeedsThemForItsCommits",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n3"; f.switchover_from = "n1"; f.switchover_to = "n2";
              f.synchronous_mode = true; f.sync_required = 2;
              f.members = {Member("n1", 1000, false, true),
                           Member("n2", 900, true),
                           Member("n3", 800, true)};
            }),
            ElectionAction::kFollow, "replicate from the leader n1"},
        Row{"InStrictModeOthersGoOnceTheOldLeaderStoppedTakingWrites",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n3"; f.switchover_from = "n1"; f.switchover_to = "n2";
              f.synchronous_mode = true; f.sync_required = 2;
              f.members = {Member("n1", 1000, false, false),
                           Member("n2", 900, true),
                           Member("n3", 800, true)};
            }),
            ElectionAction::kFollow, "a switchover to n2 was asked: replicate from it already"},
        Row{"InStrictModeOthersGoAtOnceWhenTheOldLeaderHasEnoughWithoutThem",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n3"; f.switchover_from = "n1"; f.switchover_to = "n2";
              f.synchronous_mode = true; f.sync_required = 1;
              f.members = {Member("n1", 1000, false, true),
                           Member("n2", 900, true),
                           Member("n3", 800, true)};
            }),
            ElectionAction::kFollow, "a switchover to n2 was asked: replicate from it already"},
        Row{"ASwitchoverToAStrangerLeavesTheReplicantsWithTheLeader",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n3"; f.switchover_from = "n1"; f.switchover_to = "n9";
            }),
            ElectionAction::kFollow, "replicate from the leader n1"},
        Row{"AfterTheSwitchoverEveryoneFollowsTheNewLeader",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n3"; f.leader = "n2"; f.switchover_from = "n1"; f.switchover_to = "n2";
            }),
            ElectionAction::kFollow, "replicate from the leader n2"},
        Row{"TheOldLeaderNeverTakesTheKeyBackDuringASwitchover",
            With(Base(), [](ElectionFacts& f) {
              f.self = "n1"; f.leader = ""; f.switchover_from = "n1";
              f.members = {Member("n1", 1000), Member("n2", 1000)};
            }),
            ElectionAction::kWait, "away from this node"},
        Row{"DataWithoutAnInitialisedMarkIsForAPerson",
            With(Base(), [](ElectionFacts& f) { f.leader = ""; f.initialized = false; }),
            ElectionAction::kWait, "a person must decide"}),
    [](const ::testing::TestParamInfo<Row>& info) { return std::string(info.param.name); });

TEST(DecideElection, FollowsTheSwitchoverTargetByName) {
  ElectionFacts f = Base();
  f.self = "n3";
  f.switchover_from = "n1";
  f.switchover_to = "n2";
  EXPECT_EQ(DecideElection(f).target, "n2");
  f.switchover_to = "";
  EXPECT_EQ(DecideElection(f).target, "n1");
}

TEST(BestCandidate, NoneWhenNobodyIsEligible) {
  ElectionFacts f = Base();
  f.synchronous_mode = true;
  EXPECT_EQ(BestCandidate(f), "");
  f.synchronous_mode = false;
  EXPECT_EQ(BestCandidate(f), "n1");
}

}  // namespace
}  // namespace pgkeeper

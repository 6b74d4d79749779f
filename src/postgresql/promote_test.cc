#include "postgresql/promote.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr Lsn kAt = 0x5000100;

PeerPosition PeerAt(const std::string& name, Lsn received, bool reached = true) {
  PeerPosition p;
  p.peer = Peer{name, "172.18.0.9"};
  p.reached = reached;
  p.received = received;
  if (!reached) p.error = "connection refused";
  return p;
}

PromoteFacts Facts() {
  PromoteFacts f;
  f.upstream = "pg-master:5432";
  f.received = kAt;
  f.now_ms = 1'700'000'010'000;
  f.heard = Heard{"pg-master:5432", kAt + 256, 1'700'000'007'700};
  return f;
}

// ------------------------------------------------------------ the decision

TEST(DecidePromote, GoesWhenTheMasterIsGoneAndNoPeerIsAhead) {
  PromoteFacts f = Facts();
  f.peers = {PeerAt("pg_replicant_2", kAt - 10), PeerAt("pg_replicant_3", 0, false)};
  PromoteDecision d = DecidePromote(f);
  EXPECT_TRUE(d.go);
  EXPECT_EQ(d.reason,
            "checked before promoting: the old master pg-master:5432 does not answer; 1 other "
            "replicant reached, none ahead of this node; not reached: pg_replicant_3 "
            "(connection refused)");
}

TEST(DecidePromote, RefusesWhileTheOldMasterAcceptsWritesAndSaysHowToStopIt) {
  PromoteFacts f = Facts();
  f.upstream_reached = f.upstream_writable = true;
  PromoteDecision d = DecidePromote(f);
  EXPECT_FALSE(d.go);
  EXPECT_THAT(d.reason, HasSubstr("refusing to promote: the old master pg-master:5432 is still up "
                                  "and accepts writes"));
  EXPECT_THAT(d.reason, HasSubstr("two writable masters"));
  EXPECT_THAT(d.reason, HasSubstr("docker stop"));
  EXPECT_THAT(d.reason, HasSubstr("--force"));
}

TEST(DecidePromote, AMasterThatAnswersButIsNotWritableDoesNotStopIt) {
  PromoteFacts f = Facts();
  f.upstream_reached = true;
  PromoteDecision d = DecidePromote(f);
  EXPECT_TRUE(d.go);
  EXPECT_THAT(d.reason, HasSubstr("answers but is not writable"));
}

TEST(DecidePromote, RefusesWhenAPeerHasMoreWalAndNamesTheOneWithMost) {
  PromoteFacts f = Facts();
  f.peers = {PeerAt("pg_replicant_2", kAt + 100), PeerAt("pg_replicant_3", kAt + 4096)};
  PromoteDecision d = DecidePromote(f);
  EXPECT_FALSE(d.go);
  EXPECT_THAT(d.reason, HasSubstr("replicant pg_replicant_3 (172.18.0.9) has received more WAL "
                                  "than this node (0/5001100 against 0/5000100, 4096 bytes more)"));
  EXPECT_THAT(d.reason, HasSubstr("promote pg_replicant_3 instead"));
}

TEST(DecidePromote, APeerThatIsItselfAMasterNowIsNotCountedAsAhead) {
  PromoteFacts f = Facts();
  PeerPosition promoted = PeerAt("pg_replicant_2", kAt + 100);
  promoted.in_recovery = false;
  f.peers = {promoted};
  EXPECT_TRUE(DecidePromote(f).go);
}

TEST(DecidePromote, ForceGoesAndSaysWhatItOverrode) {
  PromoteFacts f = Facts();
  f.force = true;
  f.upstream_reached = f.upstream_writable = true;
  f.peers = {PeerAt("pg_replicant_2", kAt + 100)};
  PromoteDecision d = DecidePromote(f);
  EXPECT_TRUE(d.go);
  EXPECT_THAT(d.reason, HasSubstr("promoting with --force although the old master"));
  EXPECT_THAT(d.reason, HasSubstr("; and replicant pg_replicant_2"));
}

// ------------------------------------------------------------ the report

TEST(ReportPromotion, CountsTheWalTheMasterHadBeyondThePromotionPoint) {
  PromotionReport r = ReportPromotion(Facts(), kAt);
  EXPECT_EQ(r.promoted_at, kAt);
  EXPECT_EQ(r.master_known, kAt + 256);
  EXPECT_EQ(r.known_missing, 256);
  EXPECT_EQ(r.heard_ms_ago, 2300);
  EXPECT_FALSE(r.loss_impossible);
  EXPECT_THAT(r.text, HasSubstr("promoted at 0/5000100. The old master pg-master:5432 was last heard "
                                "at "));
  EXPECT_THAT(r.text, HasSubstr("(2.3 s before the promotion), then at WAL 0/5000200: 256 bytes of "
                                "WAL it had never reached this node and may be lost, with anything "
                                "it wrote after that message."));
  EXPECT_THAT(r.text, HasSubstr("its report lists exactly what it had beyond 0/5000100"));
}

TEST(ReportPromotion, NothingKnownMissingStillNamesTheOpenWindow) {
  PromoteFacts f = Facts();
  f.heard.end = kAt;
  PromotionReport r = ReportPromotion(f, kAt);
  EXPECT_EQ(r.known_missing, 0);
  EXPECT_THAT(r.text, HasSubstr("this node has all of that WAL; only what it wrote after that "
                                "message may be lost"));
}

TEST(ReportPromotion, WithoutARecordItSaysItCannotTell) {
  PromoteFacts f = Facts();
  f.heard = Heard{};
  PromotionReport r = ReportPromotion(f, kAt);
  EXPECT_EQ(r.heard_ms_ago, -1);
  EXPECT_THAT(r.text, HasSubstr("may be lost and pgkeeper cannot say how much"));
}

TEST(ReportPromotion, StrictSyncWithEveryListedReplicantRequiredMakesLossImpossible) {
  PromoteFacts f = Facts();
  f.sync_required = 1;
  f.self = "pg_replicant";
  f.peer_list = PeerList{1'700'000'000'000, "ANY 1 (\"pg_replicant\")",
                         {Peer{"pg_replicant", "172.18.0.3"}, Peer{"pgkeeper_clone", "172.18.0.4"}}};
  PromotionReport r = ReportPromotion(f, kAt);
  EXPECT_TRUE(r.loss_impossible) << "a clone's stream never confirmed a commit";
  EXPECT_THAT(r.text, HasSubstr("Synchronous replication was strict (ANY 1 of the 1 replicant the "
                                "master named, pg_replicant, at 22:13:20.000 UTC): every "
                                "acknowledged commit is on this node, so no acknowledged commit is "
                                "lost."));
}

TEST(ReportPromotion, StrictSyncClaimsNothingForANodeTheMasterDidNotName) {
  PromoteFacts f = Facts();
  f.sync_required = 1;
  f.self = "pg_new";  // copied, but the master had not named it yet
  f.peer_list = PeerList{1, "ANY 1 (\"pg_old\")", {Peer{"pg_new", "1"}}};
  EXPECT_FALSE(ReportPromotion(f, kAt).loss_impossible);
  // The form of an older pgkeeper (any streaming connection counted).
  f.self = "pg_old";
  f.peer_list = PeerList{1, "ANY 1 (*)", {Peer{"pg_old", "1"}}};
  EXPECT_FALSE(ReportPromotion(f, kAt).loss_impossible);
}

TEST(ReportPromotion, StrictSyncWithAnUnreachedPeerCannotRuleLossOut) {
  PromoteFacts f = Facts();
  f.sync_required = 1;
  f.self = "a";
  f.peer_list = PeerList{1, "ANY 1 (\"a\", \"b\")", {Peer{"a", "1"}, Peer{"b", "2"}}};
  f.peers = {PeerAt("b", 0, false)};
  EXPECT_FALSE(ReportPromotion(f, kAt).loss_impossible);
  f.peers = {PeerAt("b", kAt - 1)};  // reached, and behind this node
  EXPECT_TRUE(ReportPromotion(f, kAt).loss_impossible);
  f.peers = {PeerAt("b", kAt + 1)};  // ahead: it may hold a commit this node lacks
  EXPECT_FALSE(ReportPromotion(f, kAt).loss_impossible);
  // A named replicant that was not connected when the master was asked may
  // have confirmed commits before it went.
  f.peer_list.standby_names = "ANY 1 (\"a\", \"b\", \"c\")";
  f.peers = {PeerAt("b", kAt - 1)};
  EXPECT_FALSE(ReportPromotion(f, kAt).loss_impossible);
}

TEST(ReportPromotion, AvailableModeOrAsynchronousNeverClaimsNoLoss) {
  PromoteFacts f = Facts();
  f.peer_list = PeerList{1, "ANY 1 (*)", {Peer{"a", "1"}}};
  f.sync_required = 1;
  f.sync_strict = false;
  EXPECT_FALSE(ReportPromotion(f, kAt).loss_impossible);
  f.sync_strict = true;
  f.sync_required = 0;
  PromotionReport r = ReportPromotion(f, kAt);
  EXPECT_FALSE(r.loss_impossible);
  EXPECT_THAT(r.text, Not(HasSubstr("Synchronous")));
}

// ------------------------------------------------------------ records

TEST(Heard, RoundTripsAndRejectsGarbage) {
  Heard h{"pg-master:5432", 0x30000A8, 1'700'000'000'123};
  Heard back;
  ASSERT_TRUE(ParseHeard(RenderHeard(h), &back));
  EXPECT_EQ(back.upstream, h.upstream);
  EXPECT_EQ(back.end, h.end);
  EXPECT_EQ(back.at_ms, h.at_ms);
  EXPECT_FALSE(ParseHeard("not json", &back));
  EXPECT_FALSE(ParseHeard(R"({"end": "zz"})", &back));
}

TEST(PeerList, RoundTripsAndRejectsGarbage) {
  PeerList p{42, "ANY 1 (*)", {Peer{"a", "10.0.0.1"}, Peer{"b", "10.0.0.2"}}};
  PeerList back;
  ASSERT_TRUE(ParsePeerList(RenderPeerList(p), &back));
  EXPECT_EQ(back.at_ms, 42);
  EXPECT_EQ(back.standby_names, "ANY 1 (*)");
  ASSERT_EQ(back.peers.size(), 2u);
  EXPECT_EQ(back.peers[1].name, "b");
  EXPECT_EQ(back.peers[1].address, "10.0.0.2");
  EXPECT_FALSE(ParsePeerList("[]", &back));
  EXPECT_FALSE(ParsePeerList(R"({"peers": [1]})", &back));
}

}  // namespace
}  // namespace pgkeeper

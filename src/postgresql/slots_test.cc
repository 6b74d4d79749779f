// The pure part of replication slots: names and the decision per upstream slot.
#include "postgresql/slots.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;

TEST(SlotName, IsTheNodeNameInLowerCaseWithOnlyLettersDigitsAndUnderscores) {
  EXPECT_EQ(SlotName("pg-replicant-1"), "pg_replicant_1");
  EXPECT_EQ(SlotName("Replica.East"), "replica_east");
  EXPECT_EQ(SlotName("3f2a9c0d1b7e"), "3f2a9c0d1b7e");
  EXPECT_EQ(SlotName(""), "pgkeeper");
  EXPECT_EQ(SlotName(std::string(80, 'a')).size(), 63u);
}

TEST(NodeName, IsPgkeeperNodeNameOrElseTheHostName) {
  Config c;
  EXPECT_EQ(NodeName(c, "3f2a9c0d1b7e"), "3f2a9c0d1b7e");
  c.node_name = "pg-replicant-2";
  EXPECT_EQ(NodeName(c, "3f2a9c0d1b7e"), "pg-replicant-2");
}

UpstreamSlot Slot(bool exists, bool physical, const std::string& restart_lsn) {
  UpstreamSlot s;
  s.exists = exists;
  s.physical = physical;
  s.restart_lsn = restart_lsn;
  return s;
}

TEST(DecideSlot, NoSlotYetIsCreated) {
  SlotDecision d = DecideSlot("r1", "pg-master:5432", Slot(false, true, ""));
  EXPECT_EQ(d.step, SlotStep::kCreate);
  EXPECT_EQ(d.reason, "slot r1 on pg-master:5432: none yet; creating it, reserving WAL from now on");
}

TEST(DecideSlot, ASlotThatHoldsWalIsUsed) {
  SlotDecision d = DecideSlot("r1", "pg-master:5432", Slot(true, true, "0/3000060"));
  EXPECT_EQ(d.step, SlotStep::kUse);
  EXPECT_EQ(d.reason, "slot r1 on pg-master:5432 holds WAL from 0/3000060; using it");
}

TEST(DecideSlot, ASlotThatHoldsNoWalIsMadeAgain) {
  SlotDecision d = DecideSlot("r1", "pg-master:5432", Slot(true, true, ""));
  EXPECT_EQ(d.step, SlotStep::kRecreate);
  EXPECT_THAT(d.reason, HasSubstr("holds no WAL"));
  EXPECT_THAT(d.reason, HasSubstr("WAL_RETAIN_MAX"));
}

TEST(DecideSlot, ALogicalSlotOfTheSameNameIsLeftAloneAndNamed) {
  SlotDecision d = DecideSlot("r1", "pg-master:5432", Slot(true, false, "0/3000060"));
  EXPECT_EQ(d.step, SlotStep::kRefuse);
  EXPECT_THAT(d.reason, HasSubstr("logical slot"));
  EXPECT_THAT(d.reason, HasSubstr("PGKEEPER_NODE_NAME"));
}

}  // namespace
}  // namespace pgkeeper

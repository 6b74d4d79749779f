#include "postgresql/clone.h"

#include <vector>

#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

TEST(MasterLook, EveryTenthOfASecondWhileAMasterBesideItCouldStillBeInitialising) {
  EXPECT_EQ(NextMasterLookMs(0, 0), 100);
  EXPECT_EQ(NextMasterLookMs(4000, 100), 100);
  EXPECT_EQ(NextMasterLookMs(29999, 100), 100);
}

TEST(MasterLook, ThenBacksOffToFiveSeconds) {
  int ms = 100;
  std::vector<int> seen;
  for (int i = 0; i < 8; ++i) seen.push_back(ms = NextMasterLookMs(30000 + i * 5000, ms));
  EXPECT_EQ(seen, (std::vector<int>{200, 400, 800, 1600, 3200, 5000, 5000, 5000}));
}

TEST(MasterLook, LogsTheFirstLooksChangesAndThenOneInFiftyUntilTheyAreSlow) {
  EXPECT_TRUE(LogMasterLook(1, false, 100));
  EXPECT_TRUE(LogMasterLook(2, false, 100));
  EXPECT_FALSE(LogMasterLook(3, false, 100));
  EXPECT_TRUE(LogMasterLook(7, true, 100));
  EXPECT_TRUE(LogMasterLook(50, false, 100));
  EXPECT_FALSE(LogMasterLook(51, false, 100));
  EXPECT_TRUE(LogMasterLook(301, false, 1600));
}

}  // namespace
}  // namespace pgkeeper

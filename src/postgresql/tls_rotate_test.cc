#include "postgresql/tls_rotate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;

TlsFilesSeen Seen(const std::string& content, const std::string& served) {
  TlsFilesSeen s;
  s.given = true;
  s.content = content;
  s.served = served;
  return s;
}

TEST(DecideRotation, ASelfSignedNodeHasNothingToWatch) {
  TlsFilesSeen s;
  RotateDecision d = DecideRotation(s, "", "", true);
  EXPECT_EQ(d.action, RotateAction::kNothing);
  EXPECT_THAT(d.reason, HasSubstr("self-signed"));
}

TEST(DecideRotation, TheServedFilesNeedNothing) {
  EXPECT_EQ(DecideRotation(Seen("A", "A"), "A", "", false).action, RotateAction::kNothing);
  EXPECT_EQ(DecideRotation(Seen("A", "A"), "", "", true).action, RotateAction::kNothing);
}

TEST(DecideRotation, ChangedFilesAreLoadedOnceTheySettle) {
  // First seen changed: the key may not be replaced yet; wait one look.
  EXPECT_EQ(DecideRotation(Seen("B", "A"), "A", "", false).action, RotateAction::kWait);
  EXPECT_EQ(DecideRotation(Seen("B", "A"), "B", "", false).action, RotateAction::kLoad);
}

TEST(DecideRotation, AReloadLoadsAtOnce) {
  EXPECT_EQ(DecideRotation(Seen("B", "A"), "A", "", true).action, RotateAction::kLoad);
}

TEST(DecideRotation, RefusedFilesAreNotCheckedAgainUntilTheyChangeOrAReloadAsks) {
  EXPECT_EQ(DecideRotation(Seen("B", "A"), "B", "B", false).action, RotateAction::kNothing);
  EXPECT_EQ(DecideRotation(Seen("B", "A"), "B", "B", true).action, RotateAction::kLoad);
  EXPECT_EQ(DecideRotation(Seen("C", "A"), "C", "B", false).action, RotateAction::kLoad);
}

TEST(DecideRotation, AFileOnlyRootCanReadIsLoadedAtTheNextStartAndSaysSo) {
  TlsFilesSeen s = Seen("", "A");
  s.unreadable = "SSL_KEY_FILE=/run/secrets/key (Permission denied)";
  RotateDecision d = DecideRotation(s, "", "", false);
  EXPECT_EQ(d.action, RotateAction::kCannotRead);
  EXPECT_THAT(d.reason, HasSubstr("SSL_KEY_FILE=/run/secrets/key (Permission denied)"));
  EXPECT_THAT(d.reason, HasSubstr("restart the container"));
}

}  // namespace
}  // namespace pgkeeper

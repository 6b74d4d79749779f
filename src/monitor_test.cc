#include "monitor.h"

#include <gtest/gtest.h>

#include <memory>

#include "test_util.h"

namespace pgkeeper {
namespace {

// PostgreSQL is never expected here, so the monitor only stamps the time
// once a second and no server is needed.
Config RunIn(const TempDir& dir) {
  Config c;
  c.run_dir = dir.path();
  return c;
}

TEST(MonitorPublished, IsTheLatestSnapshotWithItsJson) {
  TempDir dir;
  Monitor monitor(RunIn(dir), KeeperState());
  monitor.SetPhase("waiting-for-master", "waiting for master pg-master:5432");
  std::shared_ptr<const PublishedSnapshot> p = monitor.Published();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->snapshot.keeper.phase, "waiting-for-master");
  EXPECT_EQ(p->json, ToJson(p->snapshot) + "\n");
  Snapshot latest = monitor.Latest();
  // The poll thread may have stamped a newer snapshot in between.
  if (latest.taken_at_ms == p->snapshot.taken_at_ms) {
    EXPECT_EQ(ToJson(latest), ToJson(p->snapshot));
  }
}

TEST(MonitorPublished, IsSharedUntilTheSnapshotChanges) {
  TempDir dir;
  Monitor monitor(RunIn(dir), KeeperState());
  // The once-a-second poll changes the snapshot too; back-to-back calls
  // straddle it at most rarely, never three times running.
  bool shared = false;
  for (int i = 0; i < 3 && !shared; ++i) shared = monitor.Published() == monitor.Published();
  EXPECT_TRUE(shared);

  std::shared_ptr<const PublishedSnapshot> before = monitor.Published();
  monitor.SetPhase("cloning", "copying pg-master:5432 with pg_basebackup");
  std::shared_ptr<const PublishedSnapshot> after = monitor.Published();
  EXPECT_NE(after, before);
  EXPECT_EQ(after->snapshot.keeper.phase, "cloning");
  EXPECT_NE(after->json.find("\"phase\": \"cloning\""), std::string::npos) << after->json;
  // An answer already handed out stays as it was.
  EXPECT_NE(before->snapshot.keeper.phase, "cloning");
}

}  // namespace
}  // namespace pgkeeper

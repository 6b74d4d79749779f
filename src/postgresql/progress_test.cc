#include "postgresql/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMB = 1024 * 1024;

// ---------------------------------------------------------------- ParseBasebackupProgress

struct ProgressLine {
  std::string line;
  int64_t done_kb;
  int64_t total_kb;
};

TEST(ParseBasebackupProgress, ReadsDoneAndTotalFromPgBasebackupLines) {
  const ProgressLine cases[] = {
      // pg_basebackup -P -v: the done column is padded to the total's width.
      {"  38782/38782 kB (100%), 0/1 tablespace (.../global/pg_control)", 38782, 38782},
      {"38782/38782 kB (100%), 0/1 tablespace (.../global/pg_control)", 38782, 38782},
      {"1234/56789 kB (2%), 0/1 tablespace", 1234, 56789},
      {"    0/56789 kB (0%), 0/1 tablespace", 0, 56789},
      {" 1234/56789 kB (2%), 0/1 tablespace (/var/lib/postgresql/data.new/base/1/1259      )", 1234,
       56789},
      {"38782/38782 kB (100%), 1/1 tablespace", 38782, 38782},
      // The estimate was too small: pg_basebackup keeps counting past it.
      {"40000/38782 kB (100%), 0/1 tablespace", 40000, 38782},
      // Without a size estimate (--no-estimate-size) the total is 0.
      {"512/0 kB (0%), 0/1 tablespace", 512, 0},
      {"1/2 kB (50%)", 1, 2},
      {"123456789012/123456789012 kB (100%), 0/1 tablespace", 123456789012, 123456789012},
  };
  for (const auto& c : cases) {
    std::optional<BasebackupProgress> p = ParseBasebackupProgress(c.line);
    ASSERT_TRUE(p.has_value()) << "'" << c.line << "'";
    EXPECT_EQ(p->done_kb, c.done_kb) << c.line;
    EXPECT_EQ(p->total_kb, c.total_kb) << c.line;
  }
}

TEST(ParseBasebackupProgress, OtherLinesAreNotProgress) {
  for (const char* line : {
           "",
           " ",
           "pg_basebackup: checkpoint completed",
           "pg_basebackup: initiating base backup, waiting for checkpoint to complete",
           "pg_basebackup: write-ahead log start point: 0/2000028 on timeline 1",
           "pg_basebackup: starting background WAL receiver",
           "pg_basebackup: created temporary replication slot \"pg_basebackup_123\"",
           "pg_basebackup: write-ahead log end point: 0/2000100",
           "pg_basebackup: syncing data to disk ...",
           "pg_basebackup: base backup completed",
           "pg_basebackup: error: could not connect to server: Connection refused",
           "12/ kB",
           "12/",
           "12",
           "/34 kB (1%)",
           "12/34",
           "12/34 kB",
           "12/34 kB(1%)",
           "12/34 MB (1%)",
           "12 / 34 kB (1%)",
           "12/34kB (1%)",
           "a12/34 kB (1%)",
           "-12/34 kB (1%)",
           "\t12/34 kB (1%)",
           "1234567890123456789/1 kB (1%)",  // more digits than any real backup has
       }) {
    EXPECT_FALSE(ParseBasebackupProgress(line).has_value()) << "'" << line << "'";
  }
}

// ---------------------------------------------------------------- CloneProgressTracker

TEST(CloneProgressTracker, RateIsTheAverageSinceTheStartAndEtaFollowsFromIt) {
  CloneProgressTracker t(10'000);
  CloneProgress c = t.Update({1024, 4096}, 12'000);  // 1 MB of 4 MB in 2 s
  EXPECT_TRUE(c.active);
  EXPECT_EQ(c.done_bytes, kMB);
  EXPECT_EQ(c.total_bytes, 4 * kMB);
  EXPECT_DOUBLE_EQ(c.percent(), 25);
  EXPECT_DOUBLE_EQ(c.rate_bytes_per_s, 512 * 1024);
  EXPECT_DOUBLE_EQ(c.eta_seconds, 6);

  c = t.Update({3072, 4096}, 14'000);  // 3 MB in 4 s
  EXPECT_DOUBLE_EQ(c.rate_bytes_per_s, 768 * 1024);
  EXPECT_NEAR(c.eta_seconds, 4.0 / 3, 1e-9);
  EXPECT_DOUBLE_EQ(c.percent(), 75);
}

TEST(CloneProgressTracker, RateAndEtaAreUnknownInTheFirstFifthOfASecond) {
  CloneProgressTracker t(10'000);
  for (int64_t now : {10'000LL, 10'100LL, 10'200LL, 9'000LL}) {
    CloneProgress c = t.Update({1024, 4096}, now);
    EXPECT_TRUE(c.active);
    EXPECT_EQ(c.done_bytes, kMB);
    EXPECT_EQ(c.rate_bytes_per_s, 0) << now;
    EXPECT_EQ(c.eta_seconds, -1) << now;
  }
  EXPECT_GT(t.Update({1024, 4096}, 10'201).rate_bytes_per_s, 0);
}

TEST(CloneProgressTracker, NothingCopiedYetMeansUnknownEta) {
  CloneProgressTracker t(0);
  CloneProgress c = t.Update({0, 4096}, 5'000);
  EXPECT_EQ(c.rate_bytes_per_s, 0);
  EXPECT_EQ(c.eta_seconds, -1);
  EXPECT_EQ(c.percent(), 0);
}

TEST(CloneProgressTracker, DoneBeyondTheEstimateClampsTheTotalToDone) {
  CloneProgressTracker t(0);
  CloneProgress c = t.Update({5000, 4096}, 10'000);
  EXPECT_EQ(c.done_bytes, 5000 * 1024);
  EXPECT_EQ(c.total_bytes, 5000 * 1024);
  EXPECT_DOUBLE_EQ(c.percent(), 100);
  EXPECT_DOUBLE_EQ(c.eta_seconds, 0);
  EXPECT_DOUBLE_EQ(c.rate_bytes_per_s, 5000 * 1024 / 10.0);
}

TEST(CloneProgressTracker, FinishedCopyHasNoTimeLeft) {
  CloneProgressTracker t(0);
  CloneProgress c = t.Update({38782, 38782}, 3'000);
  EXPECT_DOUBLE_EQ(c.percent(), 100);
  EXPECT_DOUBLE_EQ(c.eta_seconds, 0);
}

TEST(CloneProgressTracker, DescribeGivesPercentSizesRateAndTimeLeft) {
  CloneProgressTracker t(0);
  EXPECT_EQ(CloneProgressTracker::Describe(t.Update({1024, 4096}, 2'000)),
            "clone progress: 25.0% (1.0 MB of 4.0 MB) at 512.0 kB/s, about 6 s left");
  EXPECT_EQ(CloneProgressTracker::Describe(t.Update({0, 4096}, 100)),
            "clone progress: 0.0% (0 B of 4.0 MB) at 0 B/s, time left unknown");
  EXPECT_EQ(CloneProgressTracker::Describe(t.Update({5000, 4096}, 10'000)),
            "clone progress: 100.0% (4.9 MB of 4.9 MB) at 500.0 kB/s, about 0 s left");
}

TEST(CloneProgressTracker, DescribeRoundsTheTimeLeftToWholeSeconds) {
  CloneProgress c;
  c.active = true;
  c.done_bytes = 350 * kMB;
  c.total_bytes = 780 * kMB;
  c.rate_bytes_per_s = 52.1 * kMB;
  c.eta_seconds = 8.25;
  EXPECT_EQ(CloneProgressTracker::Describe(c),
            "clone progress: 44.9% (350.0 MB of 780.0 MB) at 52.1 MB/s, about 8 s left");
  c.eta_seconds = 8.5;
  EXPECT_THAT(CloneProgressTracker::Describe(c), HasSubstr("about 9 s left"));
  c.eta_seconds = 0.4;
  EXPECT_THAT(CloneProgressTracker::Describe(c), HasSubstr("about 0 s left"));
  c.eta_seconds = 3725;
  EXPECT_THAT(CloneProgressTracker::Describe(c), HasSubstr("about 3725 s left"));
}

TEST(CloneProgressTracker, ParsedLinesFeedTheTracker) {
  CloneProgressTracker t(1'000);
  auto p = ParseBasebackupProgress("  19391/38782 kB (50%), 0/1 tablespace (.../base/5/2619)");
  ASSERT_TRUE(p.has_value());
  CloneProgress c = t.Update(*p, 3'000);
  EXPECT_DOUBLE_EQ(c.percent(), 50);
  EXPECT_DOUBLE_EQ(c.eta_seconds, 2);
  EXPECT_EQ(CloneProgressTracker::Describe(c),
            "clone progress: 50.0% (18.9 MB of 37.9 MB) at 9.5 MB/s, about 2 s left");
}

}  // namespace
}  // namespace pgkeeper

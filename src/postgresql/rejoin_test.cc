// The pure part of rejoin: LSNs, histories, the fork point, pg_controldata
// and pg_waldump output, the path chosen and the discard report.
#include "postgresql/rejoin.h"

#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMB = 1024 * 1024;

Lsn L(const char* text) {
  Lsn lsn = 0;
  EXPECT_TRUE(ParseLsn(text, &lsn)) << text;
  return lsn;
}

TEST(Lsn, ParsesAndFormatsHighAndLowHalves) {
  EXPECT_EQ(L("0/1527AB0"), 0x1527AB0u);
  EXPECT_EQ(L("16/B374D848"), 0x16B374D848u);
  EXPECT_EQ(FormatLsn(0x16B374D848u), "16/B374D848");
  EXPECT_EQ(FormatLsn(0), "0/0");
  Lsn lsn;
  EXPECT_FALSE(ParseLsn("", &lsn));
  EXPECT_FALSE(ParseLsn("12345", &lsn));
  EXPECT_FALSE(ParseLsn("0/XYZ", &lsn));
  EXPECT_FALSE(ParseLsn("0/10 ", &lsn));
}

TEST(ParseHistory, ReadsTimelineAndSwitchPointSkippingComments) {
  auto h = ParseHistory("1\t0/3000060\tno recovery target specified\n\n# note\n2\t0/5000110\tbefore 2000-01-01\n");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].tli, 1);
  EXPECT_EQ(h[0].end, L("0/3000060"));
  EXPECT_EQ(h[1].tli, 2);
  EXPECT_EQ(h[1].end, L("0/5000110"));
  EXPECT_TRUE(ParseHistory("").empty());
}

TEST(FindFork, APromotedReplicantLeftTheOldMastersTimeline) {
  // Old master on timeline 1; the new master left it at 0/3000060.
  Fork f = FindFork(1, {}, 2, {{1, L("0/3000060")}});
  EXPECT_TRUE(f.diverged);
  EXPECT_EQ(f.tli, 1);
  EXPECT_EQ(f.lsn, L("0/3000060"));
}

TEST(FindFork, TheSameTimelineIsOneLine) {
  EXPECT_FALSE(FindFork(1, {}, 1, {}).diverged);
  EXPECT_FALSE(FindFork(2, {{1, L("0/3000060")}}, 2, {{1, L("0/3000060")}}).diverged);
}

TEST(FindFork, TwoPromotionsFromTheSameTimelineForkAtTheEarlierSwitch) {
  Fork f = FindFork(2, {{1, L("0/3000060")}}, 3, {{1, L("0/3000060")}, {2, L("0/5000000")}});
  EXPECT_TRUE(f.diverged);
  EXPECT_EQ(f.tli, 2);
  EXPECT_EQ(f.lsn, L("0/5000000"));
  // Independent promotions of two replicas of timeline 1, both to timeline 2.
  Fork g = FindFork(2, {{1, L("0/3000060")}}, 2, {{1, L("0/3000100")}});
  EXPECT_TRUE(g.diverged);
  EXPECT_EQ(g.lsn, L("0/3000060"));
}

TEST(FindFork, DifferentTimelinesFromTheSameParentForkWhereTheParentEnds) {
  Fork f = FindFork(2, {{1, L("0/3000060")}}, 3, {{1, L("0/3000060")}});
  EXPECT_TRUE(f.diverged);
  EXPECT_EQ(f.tli, 1);
  EXPECT_EQ(f.lsn, L("0/3000060"));
}

TEST(ParseControlData, ReadsIdentifierStateTimelineAndCheckpoint) {
  ControlData c;
  ASSERT_TRUE(ParseControlData(
      "pg_control version number:            1300\n"
      "Database system identifier:           7715000204160747678\n"
      "Database cluster state:               in production\n"
      "Latest checkpoint location:           0/1527AB0\n"
      "Latest checkpoint's TimeLineID:       3\n",
      &c));
  EXPECT_EQ(c.system_id, "7715000204160747678");
  EXPECT_EQ(c.state, "in production");
  EXPECT_EQ(c.tli, 3);
  EXPECT_EQ(c.checkpoint, L("0/1527AB0"));
  EXPECT_FALSE(ParseControlData("Database cluster state: shut down\n", &c));
}

TEST(ParseControlHead, ReadsStateAndCheckpointOfVersion1300Only) {
  std::string bytes(8192, '\0');
  const uint32_t version = 1300, shut_down = 1, in_production = 6;
  const uint64_t checkpoint = L("0/6079390");
  std::memcpy(&bytes[8], &version, 4);
  std::memcpy(&bytes[16], &shut_down, 4);
  std::memcpy(&bytes[32], &checkpoint, 8);
  ControlHead h;
  ASSERT_TRUE(ParseControlHead(bytes, &h));
  EXPECT_TRUE(h.shut_down);
  EXPECT_EQ(h.checkpoint, L("0/6079390"));
  std::memcpy(&bytes[16], &in_production, 4);
  ASSERT_TRUE(ParseControlHead(bytes, &h));
  EXPECT_FALSE(h.shut_down);
  EXPECT_FALSE(ParseControlHead(bytes.substr(0, 39), &h)) << "too short";
  const uint32_t other = 1700;
  std::memcpy(&bytes[8], &other, 4);
  EXPECT_FALSE(ParseControlHead(bytes, &h)) << "another layout";
}

TEST(SummarizeWaldump, CountsCommitsAndUserTablesAndFindsTheEnd) {
  std::vector<std::string> lines = {
      "rmgr: Heap        len (rec/tot):     59/    59, tx:        731, lsn: 0/03000060, prev 0/03000028, desc: INSERT off 3 flags 0x00, blkref #0: rel 1663/16384/16390 blk 0",
      "rmgr: Heap        len (rec/tot):     54/   162, tx:        731, lsn: 0/030000A0, prev 0/03000060, desc: INSERT off 1, blkref #0: rel 1663/16384/1259 blk 2 FPW",
      "rmgr: Transaction len (rec/tot):     34/    34, tx:        731, lsn: 0/03000148, prev 0/030000A0, desc: COMMIT 2026-12-03 09:01:04.887968 UTC",
      "rmgr: Heap2       len (rec/tot):     85/    85, tx:        732, lsn: 0/03000170, prev 0/03000148, desc: MULTI_INSERT 1 tuples flags 0x02, blkref #0: rel 1663/16384/16395 blk 13",
      "rmgr: Transaction len (rec/tot):     34/    34, tx:        732, lsn: 0/030001C8, prev 0/03000170, desc: ABORT 2026-12-03 09:01:05.000000 UTC",
      "rmgr: Heap        len (rec/tot):     59/    59, tx:        733, lsn: 0/030001F0, prev 0/030001C8, desc: UPDATE off 3 xmax 733, blkref #0: rel 1663/16384/16390 blk 0",
      "rmgr: Transaction len (rec/tot):    405/   405, tx:        733, lsn: 0/03000230, prev 0/030001F0, desc: COMMIT 2026-12-03 09:01:06.5 UTC; inval msgs: catcache 80",
      "pg_waldump: error: error in WAL record at 0/03000230: invalid record length at 0/030003C8: wanted 24, got 0",
  };
  WalSummary s = SummarizeWaldump(lines);
  EXPECT_EQ(s.commits, 2);
  EXPECT_EQ(s.aborts, 1);
  EXPECT_EQ(s.last_commit_time, "2026-12-03 09:01:06.5 UTC");
  EXPECT_EQ(s.end, L("0/030003C8"));
  EXPECT_EQ(s.relations, (std::vector<std::pair<uint32_t, uint32_t>>{{16384, 16390}, {16384, 16395}}));
  EXPECT_EQ(SummarizeWaldump({}).end, 0u);
}

TEST(WalHeadBytes, KeepsUpToTheEndOfThePageHoldingTheEnd) {
  EXPECT_EQ(WalHeadBytes(L("0/2A028608"), 16 * kMB), 0x2A000);  // 165384 -> 172032
  EXPECT_EQ(WalHeadBytes(L("0/2A002000"), 16 * kMB), 0x2000);   // on a page boundary
  EXPECT_EQ(WalHeadBytes(L("0/2A000000"), 16 * kMB), 0);        // nothing in this segment
  EXPECT_EQ(WalHeadBytes(L("0/2AFFFFF8"), 16 * kMB), 16 * kMB); // never past the segment
  EXPECT_EQ(WalHeadBytes(L("1/00001001"), 64 * kMB), 0x2000);
}

TEST(WalFileName, NamesTheSegmentOfAnLsnOnATimeline) {
  EXPECT_EQ(WalFileName(1, L("0/1527AB0"), 16 * kMB), "000000010000000000000001");
  EXPECT_EQ(WalFileName(2, L("16/B374D848"), 16 * kMB), "0000000200000016000000B3");
  EXPECT_EQ(WalFileName(3, L("1/0"), 64 * kMB), "000000030000000100000000");
}

TEST(ChooseRejoinPath, NothingToDiscardFollowsAsItIs) {
  RejoinChoice c = ChooseRejoinPath({1000 * kMB, 0, 50 * kMB});
  EXPECT_EQ(c.path, RejoinPath::kFollow);
  EXPECT_THAT(c.reason, HasSubstr("nothing to discard"));
}

TEST(ChooseRejoinPath, RewindsWhenLittleChangedAndCopiesWhenMuchDid) {
  RejoinChoice small = ChooseRejoinPath({1000 * kMB, 2 * kMB, 30 * kMB});
  EXPECT_EQ(small.path, RejoinPath::kRewind);
  EXPECT_EQ(small.reason,
            "rewind: pg_rewind moves about 48.0 MB (WAL since the fork: 2.0 MB here, 30.0 MB on "
            "the new master, and 16 MB of files it always copies), a copy 1000.0 MB");
  RejoinChoice big = ChooseRejoinPath({100 * kMB, 2 * kMB, 300 * kMB});
  EXPECT_EQ(big.path, RejoinPath::kClone);
  EXPECT_THAT(big.reason, HasSubstr("copy: pg_rewind moves about 318.0 MB"));
  EXPECT_EQ(ChooseRejoinPath({100 * kMB, 1, 100 * kMB - 16 * kMB - 1}).path, RejoinPath::kClone);
  EXPECT_EQ(ChooseRejoinPath({100 * kMB, 1, 100 * kMB - 16 * kMB - 2}).path, RejoinPath::kRewind);
}

TEST(RenderDiscardReport, NamesRangeBytesTransactionsTablesAndTheFolder) {
  DiscardReport r;
  r.upstream = "pg-replicant-1:5432";
  r.fork = {true, 1, L("0/3000060")};
  r.local_tli = 1;
  r.wal.end = L("0/3000160");
  r.wal.commits = 2;
  r.wal.aborts = 1;
  r.wal.last_commit_time = "2026-12-03 09:01:06 UTC";
  r.wal.relations = {{16384, 16390}, {16384, 16400}};
  r.names = {{"16384/16390", "gis.public.roads"}};
  r.saved_to = "/var/lib/postgresql/data.pgkeeper/discarded-20261203T090106Z";
  EXPECT_EQ(RenderDiscardReport(r),
            "rejoining pg-replicant-1:5432 discards this node's WAL after the fork point: "
            "0/3000060 to 0/3000160 on timeline 1 (256 bytes), with 2 committed transactions "
            "(the last at 2026-12-03 09:01:06 UTC) and 1 aborted; tables written: "
            "gis.public.roads, relation 16384/16400 (unknown to the new master); that WAL is "
            "kept in /var/lib/postgresql/data.pgkeeper/discarded-20261203T090106Z");
}

TEST(RenderDiscardReport, SaysWhenNothingIsDiscarded) {
  DiscardReport r;
  r.upstream = "pg-a:5432";
  r.fork = {true, 1, L("0/3000060")};
  r.wal.end = L("0/3000060");
  EXPECT_EQ(RenderDiscardReport(r),
            "rejoining pg-a:5432 discards nothing: this node's WAL ends at 0/3000060, at or "
            "before the fork point 0/3000060");
}

}  // namespace
}  // namespace pgkeeper

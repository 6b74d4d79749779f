#include "postgresql/swap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "postgresql/datadir.h"
#include "test_util.h"

namespace pgkeeper {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// ---------------------------------------------------------------- PlanSwap, pure

using St = SwapStep;

struct PlanRow {
  SwapFacts facts;
  std::vector<SwapStep> steps;
};

std::string FactsName(const SwapFacts& f) {
  std::string n;
  if (f.has_new) n += "New";
  if (f.has_ready) n += "Ready";
  if (f.has_old_partial) n += "OldPartial";
  if (f.has_old) n += "Old";
  return n.empty() ? "Nothing" : n;
}

SwapFacts Facts(bool has_new, bool ready, bool partial, bool old) {
  SwapFacts f;
  f.has_new = has_new;
  f.has_ready = ready;
  f.has_old_partial = partial;
  f.has_old = old;
  return f;
}

// Every combination of {new, ready, old.partial, old}. Rows marked
// "unreachable" cannot arise from pgkeeper's own steps (old.partial becomes
// old in one rename; ready is only removed once old exists).
const std::vector<PlanRow>& PlanTable() {
  const std::vector<SwapStep> full = {St::kMoveOldAside, St::kCommitOld, St::kMoveReadyUp,
                                      St::kRemoveReady, St::kRemoveOld};
  const std::vector<SwapStep> finish = {St::kMoveReadyUp, St::kRemoveReady, St::kRemoveOld};
  auto with_new = [](std::vector<SwapStep> s) {
    s.insert(s.begin(), St::kRemoveNew);
    return s;
  };
  static const auto* table = new std::vector<PlanRow>{
      // new ready partial old
      {Facts(0, 0, 0, 0), {}},                              // settled
      {Facts(0, 0, 0, 1), {St::kRemoveOld}},                // new data in place, old not yet deleted
      {Facts(0, 0, 1, 0), {St::kRestoreOld}},               // unreachable: old moved aside, no replacement
      {Facts(0, 0, 1, 1), {St::kRemoveOld}},                // unreachable
      {Facts(0, 1, 0, 0), full},                            // just committed
      {Facts(0, 1, 0, 1), finish},                          // moving the new data up
      {Facts(0, 1, 1, 0), full},                            // moving the old data aside
      {Facts(0, 1, 1, 1), finish},                          // unreachable
      {Facts(1, 0, 0, 0), {St::kRemoveNew}},                // interrupted build
      {Facts(1, 0, 0, 1), {St::kRemoveNew, St::kRemoveOld}},
      {Facts(1, 0, 1, 0), {St::kRemoveNew, St::kRestoreOld}},
      {Facts(1, 0, 1, 1), {St::kRemoveNew, St::kRemoveOld}},
      {Facts(1, 1, 0, 0), with_new(full)},
      {Facts(1, 1, 0, 1), with_new(finish)},
      {Facts(1, 1, 1, 0), with_new(full)},
      {Facts(1, 1, 1, 1), with_new(finish)},
  };
  return *table;
}

std::vector<std::string> Names(const std::vector<SwapStep>& steps) {
  std::vector<std::string> out;
  for (SwapStep s : steps) out.push_back(SwapStepName(s));
  return out;
}

void PrintTo(const PlanRow& row, std::ostream* os) { *os << FactsName(row.facts); }

class PlanSwapTable : public ::testing::TestWithParam<PlanRow> {};

TEST_P(PlanSwapTable, PlansTheStepsThatSettleTheDirectory) {
  EXPECT_THAT(Names(PlanSwap(GetParam().facts)), ElementsAreArray(Names(GetParam().steps)));
}

INSTANTIATE_TEST_SUITE_P(PlanSwap, PlanSwapTable, ::testing::ValuesIn(PlanTable()),
                         [](const ::testing::TestParamInfo<PlanRow>& info) {
                           return FactsName(info.param.facts);
                         });

TEST(PlanSwapTableShape, CoversAllSixteenCombinationsOnce) {
  std::set<std::string> seen;
  for (const auto& row : PlanTable()) EXPECT_TRUE(seen.insert(FactsName(row.facts)).second);
  EXPECT_EQ(seen.size(), 16u);
}

// What a step does to the facts when it completes.
SwapFacts Apply(SwapFacts f, SwapStep step) {
  switch (step) {
    case St::kRemoveNew: f.has_new = false; break;
    case St::kMoveOldAside: f.has_old_partial = true; break;
    case St::kCommitOld: f.has_old_partial = false; f.has_old = true; break;
    case St::kMoveReadyUp: break;
    case St::kRemoveReady: f.has_ready = false; break;
    case St::kRemoveOld: f.has_old = false; break;
    case St::kRestoreOld: f.has_old_partial = false; break;
  }
  return f;
}

bool Settled(const SwapFacts& f) {
  return !f.has_new && !f.has_ready && !f.has_old_partial && !f.has_old;
}

// The fact combinations pgkeeper's own steps can leave behind.
const SwapFacts kReachable[] = {Facts(0, 0, 0, 0), Facts(1, 0, 0, 0), Facts(0, 1, 0, 0),
                                Facts(0, 1, 1, 0), Facts(0, 1, 0, 1), Facts(0, 0, 0, 1)};

TEST(PlanSwap, FromEveryReachableStateTheFullPlanSettles) {
  for (const SwapFacts& start : kReachable) {
    SwapFacts f = start;
    for (SwapStep s : PlanSwap(start)) f = Apply(f, s);
    EXPECT_TRUE(Settled(f)) << FactsName(start);
  }
}

TEST(PlanSwap, InterruptedAfterAnyPrefixReplanningStillSettles) {
  for (const SwapFacts& start : kReachable) {
    std::vector<SwapStep> plan = PlanSwap(start);
    for (size_t done = 0; done <= plan.size(); ++done) {
      SwapFacts f = start;
      for (size_t i = 0; i < done; ++i) f = Apply(f, plan[i]);
      for (SwapStep s : PlanSwap(f)) f = Apply(f, s);
      EXPECT_TRUE(Settled(f)) << FactsName(start) << " interrupted after " << done << " steps";
    }
  }
}

TEST(PlanSwap, IsIdempotentOnceSettled) { EXPECT_TRUE(PlanSwap(SwapFacts()).empty()); }

TEST(SwapStepName, NamesEveryStepDistinctly) {
  std::set<std::string> names;
  for (SwapStep s : {St::kRemoveNew, St::kMoveOldAside, St::kCommitOld, St::kMoveReadyUp,
                     St::kRemoveReady, St::kRemoveOld, St::kRestoreOld}) {
    std::string n = SwapStepName(s);
    EXPECT_NE(n, "?");
    EXPECT_TRUE(names.insert(n).second) << n;
  }
}

TEST(StagingDir, IsPgkeeperNewInsidePgdata) {
  EXPECT_EQ(StagingDir("/var/lib/postgresql/data"), "/var/lib/postgresql/data/.pgkeeper-new");
  EXPECT_EQ(StagingDir("/data/"), "/data/.pgkeeper-new");
}

// ---------------------------------------------------------------- on real directories

// A directory tree: relative path -> "dir", "file:<content>" or "link:<target>".
using Tree = std::map<std::string, std::string>;

void WriteTree(const fs::path& root, const Tree& tree) {
  fs::create_directories(root);
  for (const auto& [rel, what] : tree) {
    fs::path p = root / rel;
    fs::create_directories(p.parent_path());
    if (what == "dir") {
      fs::create_directories(p);
    } else if (what.rfind("file:", 0) == 0) {
      std::ofstream(p, std::ios::binary) << what.substr(5);
    } else if (what.rfind("link:", 0) == 0) {
      fs::create_symlink(what.substr(5), p);
    } else {
      ADD_FAILURE() << "bad tree entry " << rel << " -> " << what;
    }
  }
}

Tree Snapshot(const fs::path& root) {
  Tree out;
  if (!fs::exists(root)) return out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    std::string rel = fs::relative(it->path(), root).string();
    if (it->is_symlink()) {
      out[rel] = "link:" + fs::read_symlink(it->path()).string();
    } else if (it->is_directory()) {
      out[rel] = "dir";
    } else {
      std::ifstream in(it->path(), std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      out[rel] = "file:" + ss.str();
    }
  }
  return out;
}

std::string Show(const Tree& t) {
  std::string s;
  for (const auto& [rel, what] : t) s += "  " + rel + " -> " + what + "\n";
  return s;
}

const Tree kOldData = {
    {"PG_VERSION", "file:15\n"},
    {"base", "dir"},
    {"base/1", "dir"},
    {"base/1/123", "file:old table"},
    {"global", "dir"},
    {"global/pg_control", "file:old control"},
    {"pgkeeper.state", "file:origin=clone\n"},
    {"standby.signal", "file:"},
    {"old_only.conf", "file:old"},
};

const Tree kNewData = {
    {"PG_VERSION", "file:15\n"},
    {"base", "dir"},
    {"base/1", "dir"},
    {"base/1/999", "file:new table"},
    {"global", "dir"},
    {"global/pg_control", "file:new control"},
    {"pgkeeper.state", "file:origin=clone\n"},
    {"standby.signal", "file:"},
    {"new_only.conf", "file:new"},
};

const Tree kLostFound = {{"lost+found", "dir"}, {"lost+found/#1234", "file:fsck found this"}};

Tree Union(Tree a, const Tree& b) {
  a.insert(b.begin(), b.end());
  return a;
}

// Top-level names of a tree, sorted.
std::vector<std::string> TopLevel(const Tree& t) {
  std::vector<std::string> out;
  for (const auto& [rel, what] : t) {
    if (rel.find('/') == std::string::npos) out.push_back(rel);
  }
  return out;
}

// $PGDATA with the old data (and lost+found) in place and a complete build in
// .pgkeeper-new: the moment just before CommitStaging.
void SetUpBeforeCommit(const fs::path& pgdata) {
  WriteTree(pgdata, Union(kOldData, kLostFound));
  WriteTree(pgdata / kStagingNew, kNewData);
}

// The swap as a list of atomic file-system operations, in the order the
// design prescribes: commit (rename new -> ready), move each old entry aside,
// commit the old data, move each ready entry up, remove ready, delete the old
// data one path at a time. A crash can stop the sequence after any of them.
std::vector<std::function<void()>> AtomicSwapOps(const fs::path& pgdata) {
  const fs::path ready = pgdata / kStagingReady;
  const fs::path partial = pgdata / kOldPartial;
  const fs::path old = pgdata / kOld;
  std::vector<std::function<void()>> ops;
  ops.push_back([=] { fs::rename(pgdata / kStagingNew, ready); });
  ops.push_back([=] { fs::create_directory(partial); });
  for (const auto& e : TopLevel(kOldData)) {
    ops.push_back([=] { fs::rename(pgdata / e, partial / e); });
  }
  ops.push_back([=] { fs::rename(partial, old); });
  for (const auto& e : TopLevel(kNewData)) {
    ops.push_back([=] { fs::rename(ready / e, pgdata / e); });
  }
  ops.push_back([=] { fs::remove(ready); });
  // Children sort after their parents, so reverse order deletes depth first.
  for (auto it = kOldData.rbegin(); it != kOldData.rend(); ++it) {
    const std::string rel = it->first;
    ops.push_back([=] { fs::remove(old / rel); });
  }
  ops.push_back([=] { fs::remove(old); });
  return ops;
}

TEST(CommitStaging, ReplacesTheOldDataWithTheNewAndKeepsLostAndFound) {
  TempDir d;
  SetUpBeforeCommit(d.path());
  ASSERT_TRUE(CommitStaging(d.path()).ok());
  EXPECT_EQ(Snapshot(d.path()), Union(kNewData, kLostFound)) << Show(Snapshot(d.path()));
}

TEST(CommitStaging, FillsAnEmptyDataDirectory) {
  TempDir d;
  WriteTree(StagingDir(d.path()), kNewData);
  ASSERT_TRUE(CommitStaging(d.path()).ok());
  EXPECT_EQ(Snapshot(d.path()), kNewData) << Show(Snapshot(d.path()));
}

TEST(CommitStaging, WithoutAStagingDirectoryFailsAndLeavesTheOldDataAlone) {
  TempDir d;
  WriteTree(d.path(), Union(kOldData, kLostFound));
  Status st = CommitStaging(d.path());
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(kStagingNew));
  EXPECT_EQ(Snapshot(d.path()), Union(kOldData, kLostFound));
}

TEST(CommitStaging, DeletingTheOldDataNeverFollowsASymlinkOutOfPgdata) {
  TempDir outside;
  WriteTree(outside.path(), {{"wal/000000010000000000000001", "file:wal segment"}});
  TempDir d;
  SetUpBeforeCommit(d.path());
  fs::create_symlink(fs::path(outside.path()) / "wal", fs::path(d.path()) / "pg_wal");
  ASSERT_TRUE(CommitStaging(d.path()).ok());
  EXPECT_EQ(Snapshot(d.path()), Union(kNewData, kLostFound));
  EXPECT_EQ(Snapshot(outside.path()),
            (Tree{{"wal", "dir"}, {"wal/000000010000000000000001", "file:wal segment"}}));
}

TEST(SettleSwap, InterruptedAtEveryAtomicStepEndsWithExactlyOneCompleteDataSet) {
  const size_t n = AtomicSwapOps("/unused").size();
  for (size_t done = 0; done <= n; ++done) {
    TempDir d;
    SetUpBeforeCommit(d.path());
    auto ops = AtomicSwapOps(d.path());
    for (size_t i = 0; i < done; ++i) ops[i]();
    Tree interrupted = Snapshot(d.path());

    Status st = SettleSwap(d.path());
    ASSERT_TRUE(st.ok()) << "after " << done << " steps: " << st.message();
    // Before the commit rename the build is incomplete: the old data stays.
    const Tree& want = done == 0 ? kOldData : kNewData;
    EXPECT_EQ(Snapshot(d.path()), Union(want, kLostFound))
        << "interrupted after " << done << " of " << n << " steps, on disk:\n"
        << Show(interrupted) << "settled to:\n"
        << Show(Snapshot(d.path()));
  }
}

TEST(SettleSwap, SettlingAgainAfterAnyInterruptionChangesNothing) {
  const size_t n = AtomicSwapOps("/unused").size();
  for (size_t done = 1; done <= n; ++done) {
    TempDir d;
    SetUpBeforeCommit(d.path());
    auto ops = AtomicSwapOps(d.path());
    for (size_t i = 0; i < done; ++i) ops[i]();
    ASSERT_TRUE(SettleSwap(d.path()).ok());
    ASSERT_TRUE(SettleSwap(d.path()).ok());
    EXPECT_EQ(Snapshot(d.path()), Union(kNewData, kLostFound)) << done;
  }
}

TEST(SettleSwap, AnIncompleteBuildIsRemovedAndTheOldDataKept) {
  const Tree partial_builds[] = {
      {},
      {{"PG_VERSION", "file:15\n"}},
      {{"PG_VERSION", "file:15\n"}, {"base", "dir"}, {"base/1", "dir"},
       {"base/1/999", "file:new ta"}},
      kNewData,  // complete, but not yet renamed to .pgkeeper-ready
  };
  for (const Tree& build : partial_builds) {
    TempDir d;
    WriteTree(d.path(), Union(kOldData, kLostFound));
    WriteTree(fs::path(d.path()) / kStagingNew, build);
    ASSERT_TRUE(SettleSwap(d.path()).ok());
    EXPECT_EQ(Snapshot(d.path()), Union(kOldData, kLostFound)) << Show(build);
  }
}

TEST(SettleSwap, ReadyWithSomeOldEntriesMovedAsideAndSomeInPlaceEndsWithTheNewData) {
  TempDir d;
  fs::path pg = d.path();
  WriteTree(pg, kLostFound);
  WriteTree(pg / kStagingReady, kNewData);
  // PG_VERSION and base already moved aside, the rest still in place.
  WriteTree(pg / kOldPartial, {{"PG_VERSION", "file:15\n"},
                               {"base", "dir"},
                               {"base/1", "dir"},
                               {"base/1/123", "file:old table"}});
  WriteTree(pg, {{"global", "dir"},
                 {"global/pg_control", "file:old control"},
                 {"pgkeeper.state", "file:origin=clone\n"},
                 {"standby.signal", "file:"},
                 {"old_only.conf", "file:old"}});
  ASSERT_TRUE(SettleSwap(pg).ok());
  EXPECT_EQ(Snapshot(pg), Union(kNewData, kLostFound)) << Show(Snapshot(pg));
}

TEST(SettleSwap, ReadyWithOldMovedAsideAndSomeNewEntriesUpEndsWithTheNewData) {
  TempDir d;
  fs::path pg = d.path();
  WriteTree(pg, kLostFound);
  WriteTree(pg / kOld, kOldData);
  WriteTree(pg, {{"PG_VERSION", "file:15\n"},
                 {"base", "dir"},
                 {"base/1", "dir"},
                 {"base/1/999", "file:new table"}});
  WriteTree(pg / kStagingReady, {{"global", "dir"},
                                 {"global/pg_control", "file:new control"},
                                 {"pgkeeper.state", "file:origin=clone\n"},
                                 {"standby.signal", "file:"},
                                 {"new_only.conf", "file:new"}});
  ASSERT_TRUE(SettleSwap(pg).ok());
  EXPECT_EQ(Snapshot(pg), Union(kNewData, kLostFound)) << Show(Snapshot(pg));
}

TEST(SettleSwap, OldDataLeftAfterTheNewIsInPlaceIsDeleted) {
  TempDir d;
  fs::path pg = d.path();
  WriteTree(pg, Union(kNewData, kLostFound));
  WriteTree(pg / kOld, {{"base", "dir"}, {"base/1", "dir"}});  // half deleted
  ASSERT_TRUE(SettleSwap(pg).ok());
  EXPECT_EQ(Snapshot(pg), Union(kNewData, kLostFound));
}

TEST(SettleSwap, OldDataMovedAsideWithoutAReplacementIsRestored) {
  TempDir d;
  fs::path pg = d.path();
  WriteTree(pg, kLostFound);
  WriteTree(pg / kOldPartial, {{"PG_VERSION", "file:15\n"}, {"old_only.conf", "file:old"}});
  WriteTree(pg, {{"global", "dir"}, {"global/pg_control", "file:old control"}});
  ASSERT_TRUE(SettleSwap(pg).ok());
  EXPECT_EQ(Snapshot(pg), Union(kLostFound, {{"PG_VERSION", "file:15\n"},
                                             {"old_only.conf", "file:old"},
                                             {"global", "dir"},
                                             {"global/pg_control", "file:old control"}}));
}

TEST(SettleSwap, LeavesASettledDirectoryUntouched) {
  TempDir d;
  WriteTree(d.path(), Union(kOldData, kLostFound));
  ASSERT_TRUE(SettleSwap(d.path()).ok());
  EXPECT_EQ(Snapshot(d.path()), Union(kOldData, kLostFound));
}

TEST(SettleSwap, AMissingDataDirectoryIsNotAnError) {
  TempDir d;
  EXPECT_TRUE(SettleSwap(d.path() + "/missing").ok());
  EXPECT_FALSE(fs::exists(d.path() + "/missing"));
}

TEST(SettleSwap, LeavesNoSwapEntriesBehind) {
  TempDir d;
  SetUpBeforeCommit(d.path());
  ASSERT_TRUE(CommitStaging(d.path()).ok());
  SwapFacts f;
  ASSERT_TRUE(InspectSwap(d.path(), &f).ok());
  EXPECT_EQ(FactsName(f), "Nothing");
}

TEST(InspectSwap, ReportsWhichSwapEntriesExist) {
  TempDir d;
  fs::path pg = d.path();
  SwapFacts f;
  ASSERT_TRUE(InspectSwap(pg, &f).ok());
  EXPECT_EQ(FactsName(f), "Nothing");
  fs::create_directory(pg / kStagingNew);
  fs::create_directory(pg / kOld);
  ASSERT_TRUE(InspectSwap(pg, &f).ok());
  EXPECT_EQ(FactsName(f), "NewOld");
  fs::create_directory(pg / kStagingReady);
  fs::create_directory(pg / kOldPartial);
  ASSERT_TRUE(InspectSwap(pg, &f).ok());
  EXPECT_EQ(FactsName(f), "NewReadyOldPartialOld");
}

}  // namespace
}  // namespace pgkeeper

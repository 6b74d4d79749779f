#include "postgresql/postmaster.h"

#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

// The layout PostgreSQL 15 writes: pid, datadir, start time, port, socket
// dir, listen address, shared memory key, status.
std::string PidFile(const std::string& pid, const std::string& status) {
  return pid + "\n/data\n1700000000\n5432\n/run\n*\n  5432001 0\n" + status + "\n";
}

TEST(PidFileStatus, ReadsTheStatusLineOfOurOwnChild) {
  EXPECT_EQ(PidFileStatus(PidFile("123", "ready   "), 123), "ready");
  EXPECT_EQ(PidFileStatus(PidFile("123", "standby "), 123), "standby");
  EXPECT_EQ(PidFileStatus(PidFile("123", "starting"), 123), "starting");
}

TEST(PidFileStatus, IgnoresAFileOfAnotherProcessOrAnIncompleteOne) {
  EXPECT_EQ(PidFileStatus(PidFile("999", "ready   "), 123), "");
  EXPECT_EQ(PidFileStatus("123\n/data\n", 123), "");
  EXPECT_EQ(PidFileStatus("", 123), "");
}

TEST(PidFileIsStale, OnlyALivePostgresThatIsNotOursKeepsTheFile) {
  EXPECT_TRUE(PidFileIsStale(11, "", false)) << "no such process";
  EXPECT_TRUE(PidFileIsStale(11, "pgkeeper", true)) << "one of our own threads";
  EXPECT_TRUE(PidFileIsStale(11, "bash", false)) << "the PID was reused";
  EXPECT_TRUE(PidFileIsStale(0, "", false)) << "an unreadable file";
  EXPECT_FALSE(PidFileIsStale(11, "postgres", false)) << "a live postmaster: postgres decides";
}

TEST(CannotResume, RecognisesRemovedWalAndAForkedTimeline) {
  EXPECT_TRUE(CannotResume(
      "FATAL:  could not receive data from WAL stream: ERROR:  requested WAL segment "
      "000000010000000000000003 has already been removed"));
  EXPECT_TRUE(CannotResume(
      "FATAL:  new timeline 2 forked off current database system timeline 1 before current "
      "recovery point 0/5000110"));
  EXPECT_FALSE(CannotResume("LOG:  started streaming WAL from primary at 0/3000000 on timeline 1"));
  EXPECT_FALSE(CannotResume("FATAL:  could not connect to the primary server: Connection refused"));
}

}  // namespace
}  // namespace pgkeeper

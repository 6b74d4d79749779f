// A replicant whose disk fills up: postgres stops, pgkeeper says what to do
// and waits instead of using up its restarts, and once space is freed the
// replicant starts again by itself and catches up without a copy.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

// A small tmpfs, mounted for the life of the object (root only).
class SmallDisk {
 public:
  SmallDisk(const std::string& path, const std::string& size) : path_(path) {
    ::mkdir(path.c_str(), 0755);
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0755").c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

// Writes path until the disk holding it is full (as a runaway log would).
void FillDisk(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::vector<char> block(1 << 20, 'x');
  for (;;) {
    ssize_t n = ::write(fd, block.data(), block.size());
    if (n <= 0) break;
  }
  ::close(fd);
}

TEST(Disk, AReplicantWhoseDiskFillsWaitsForRoomThenCatchesUpWithoutACopy) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small disk needs root";
  Scratch scratch;
  SmallDisk disk(scratch.path() + "/disk", "400m");
  ASSERT_TRUE(disk.mounted()) << "cannot mount a tmpfs: " << disk.error();
  Node master(scratch, "master");
  Node replicant(scratch, "replicant", ReplicantOf(master, {{"PGDATA", disk.path() + "/data"}}));
  master.Start();
  master.WaitHealthy();
  replicant.Start();
  replicant.WaitHealthy();
  replicant.WaitLog("streaming from");

  const std::string filler = disk.path() + "/filler";
  FillDisk(filler);
  ASSERT_EQ(master.Query("CREATE TABLE big AS SELECT g, repeat('x', 200) AS pad "
                         "FROM generate_series(1, 100000) g"),
            "OK");
  // Either postgres goes on retrying (its WAL receiver cannot write) or it
  // stops (replay cannot extend a table); pgkeeper says the same in both.
  replicant.WaitLog("the disk holding " + disk.path() + "/data is full (");
  std::string out;
  ASSERT_EQ(replicant.Run("status", &out), 0) << out;
  EXPECT_NE(out.find("phase       disk-full: "), std::string::npos) << out;
  EXPECT_NE(out.find("free space on that volume or give it more room"), std::string::npos) << out;
  EXPECT_NE(out.find("disk        "), std::string::npos) << out;
  EXPECT_TRUE(replicant.Running()) << "pgkeeper must wait, not exit";
  // The master goes on taking writes (asynchronous replication).
  ASSERT_EQ(master.Query("INSERT INTO big VALUES (0, 'during')"), "OK");

  const size_t before = replicant.Log().size();
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  replicant.WaitLog(" free again; ");
  replicant.WaitQuery("SELECT count(*) FROM big", "100001", seconds(90));
  const std::string after = replicant.Log().substr(before);
  EXPECT_EQ(after.find("pg_basebackup"), std::string::npos) << "no copy is needed to come back";
  EXPECT_EQ(replicant.Log().find("giving up"), std::string::npos) << replicant.Log();
  replicant.Stop();
  master.Stop();
}

}  // namespace
}  // namespace pgkeeper::testing

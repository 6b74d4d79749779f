// pgkeeper started as root from a directory the postgres user may not enter,
// with its binary under such a directory too: a checkout in root's home
// (mode 0700 on Debian) or in a `mktemp -d` folder (issue 8). pgkeeper drops
// to postgres for good, yet must still start its own `apply-master` child,
// and initdb and postgres must not trip over the working directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

namespace fs = std::filesystem;

// A directory only root may enter, holding a copy of the pgkeeper binary.
class PrivateDir {
 public:
  PrivateDir() {
    char tmpl[] = "/tmp/pgkeeper-private-XXXXXX";
    char* dir = mkdtemp(tmpl);  // mode 0700
    if (!dir) abort();
    path_ = dir;
    fs::create_directories(path_ + "/build/bin");
    fs::copy_file(PGKEEPER_BIN, binary());
  }
  ~PrivateDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string binary() const { return path_ + "/build/bin/pgkeeper"; }

 private:
  std::string path_;
};

void UsePrivateDir(Node& node, const PrivateDir& dir) {
  node.SetBinary(dir.binary());
  node.SetWorkingDir(dir.path());
}

// Lines that mean a child could not use the directory it was started from.
void ExpectNoDirectoryTrouble(Node& node) {
  for (const char* text : {"could not change directory", "could not identify current directory",
                           "exec failed", "cannot execute", "Permission denied"}) {
    EXPECT_FALSE(node.LogContains(text)) << "log says '" << text << "'; log:\n" << node.Log();
  }
}

TEST(PrivateDirectory, MasterAndReplicantRunFromADirectoryOnlyRootMayEnter) {
  if (geteuid() != 0) GTEST_SKIP() << "only root drops to the postgres user";
  PrivateDir dir;
  struct stat st;
  ASSERT_EQ(stat(dir.path().c_str(), &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0700u);

  Pair p;
  UsePrivateDir(p.master, dir);
  UsePrivateDir(p.replicant, dir);
  // First start: initdb, then apply-master against the temporary server.
  p.Start();
  ASSERT_EQ(p.master.Query("CREATE TABLE t(x int); INSERT INTO t VALUES (8)"), "OK");
  p.replicant.WaitQuery("SELECT x FROM t", "8");

  // A later start: apply-master against the running master.
  ASSERT_EQ(p.master.Stop(), 0);
  p.master.Start();
  p.master.WaitHealthy();
  EXPECT_TRUE(p.master.LogContains("decision: start the master from its existing data"));
  ASSERT_EQ(p.master.Query("INSERT INTO t VALUES (9)"), "OK");
  p.replicant.WaitQuery("SELECT count(*) FROM t", "2");

  ExpectNoDirectoryTrouble(p.master);
  ExpectNoDirectoryTrouble(p.replicant);
}

}  // namespace
}  // namespace pgkeeper::testing

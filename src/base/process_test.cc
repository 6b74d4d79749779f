// Spawn and RunTool against real, tiny programs (/bin/true and friends).
#include "base/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

namespace pgkeeper {
namespace {

Status RunQuietly(const SpawnSpec& spec) {
  return RunTool(spec, [](const std::string&) {});
}

TEST(Spawn, AMissingProgramIsReportedWithItsPathAndErrno) {
  SpawnSpec spec;
  spec.argv = {"/nonexistent/pgkeeper-test-tool", "x"};
  Status st = RunQuietly(spec);
  EXPECT_EQ(st.code(), ExitCode::kSystem);
  EXPECT_EQ(st.message(), "cannot execute /nonexistent/pgkeeper-test-tool: No such file or directory");
}

TEST(Spawn, AFileWithoutExecutePermissionIsReported) {
  TempDir dir;
  dir.Write("tool.sh", "#!/bin/sh\nexit 0\n");
  const std::string path = dir.path() + "/tool.sh";
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  SpawnSpec spec;
  spec.argv = {path};
  Status st = RunQuietly(spec);
  // root may execute a file no one else may, but not one without any x bit.
  EXPECT_EQ(st.message(), "cannot execute " + path + ": Permission denied");
}

TEST(Spawn, AWorkingDirectoryThatCannotBeEnteredIsReported) {
  SpawnSpec spec;
  spec.argv = {"/bin/true"};
  spec.cwd = "/nonexistent/dir";
  Status st = RunQuietly(spec);
  EXPECT_EQ(st.message(),
            "cannot start /bin/true: cannot enter its working directory /nonexistent/dir: "
            "No such file or directory");
}

TEST(Spawn, RunsAProgramFromAnOpenDescriptor) {
  int fd = ::open("/bin/sh", O_PATH | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  SpawnSpec spec;
  spec.argv = {"shown-as-argv0", "-c", "echo \"$0 ran\""};
  spec.exec_fd = fd;
  std::vector<std::string> lines;
  Status st = RunTool(spec, [&](const std::string& line) { lines.push_back(line); });
  ::close(fd);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(lines, std::vector<std::string>{"shown-as-argv0 ran"});
}

TEST(Spawn, ANonZeroExitIsAToolFailureNamingTheTool) {
  SpawnSpec spec;
  spec.argv = {"/bin/sh", "-c", "exit 3"};
  Status st = RunQuietly(spec);
  EXPECT_EQ(st.code(), ExitCode::kTool);
  EXPECT_EQ(st.message(), "sh failed (exit code 3)");
}

TEST(Spawn, OpenSelfExecutableFindsThisBinary) {
  SelfBinary self;
  ASSERT_TRUE(OpenSelfExecutable(&self).ok());
  EXPECT_EQ(self.path.substr(self.path.find_last_of('/') + 1), "pgkeeper_unit_tests");
  EXPECT_GE(self.fd, 0);
  ::close(self.fd);
}

}  // namespace
}  // namespace pgkeeper

#include "base/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <string>

#include "test_util.h"

namespace pgkeeper {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(CopyFileHead, KeepsTheHeadAndTheLengthTheRestReadsAsZeros) {
  TempDir dir;
  std::string body(100000, 'w');
  dir.Write("seg", body);
  std::string to = dir.path() + "/kept";
  ASSERT_TRUE(CopyFileHead(dir.path() + "/seg", to, 8192, 0600).ok());
  std::string got = ReadAll(to);
  ASSERT_EQ(got.size(), body.size());
  EXPECT_EQ(got.substr(0, 8192), body.substr(0, 8192));
  EXPECT_EQ(got.substr(8192), std::string(body.size() - 8192, '\0'));
  struct stat st;
  ASSERT_EQ(::stat(to.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(CopyFileHead, NegativeHeadCopiesTheWholeFile) {
  TempDir dir;
  std::string body = "all of it\n";
  dir.Write("a", body);
  ASSERT_TRUE(CopyFileHead(dir.path() + "/a", dir.path() + "/b", -1, 0600).ok());
  EXPECT_EQ(ReadAll(dir.path() + "/b"), body);
}

TEST(CopyFileHead, HeadLongerThanTheFileCopiesTheFile) {
  TempDir dir;
  dir.Write("a", "short");
  ASSERT_TRUE(CopyFileHead(dir.path() + "/a", dir.path() + "/b", 1 << 20, 0600).ok());
  EXPECT_EQ(ReadAll(dir.path() + "/b"), "short");
}

TEST(CopyFileHead, NeverOverwritesAnExistingFile) {
  TempDir dir;
  dir.Write("a", "new");
  dir.Write("b", "precious");
  Status s = CopyFileHead(dir.path() + "/a", dir.path() + "/b", -1, 0600);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(ReadAll(dir.path() + "/b"), "precious");
}

TEST(CopyFileHead, MissingSourceIsAnErrorNamingIt) {
  TempDir dir;
  Status s = CopyFileHead(dir.path() + "/nope", dir.path() + "/b", -1, 0600);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nope"), std::string::npos);
  EXPECT_FALSE(Exists(dir.path() + "/b"));
}

}  // namespace
}  // namespace pgkeeper

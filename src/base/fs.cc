#include "base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/statvfs.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <cerrno>
#include <cstdio>

namespace pgkeeper {

Status ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(path, errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::FromErrno(path, errno);
  *out = ss.str();
  return Status::Ok();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty() || path == "/") return Status::Ok();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::System(path + " exists and is not a directory");
  }
  PGK_RETURN_IF_ERROR(MakeDirs(Dirname(path), 0755));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return Status::FromErrno("cannot create directory " + path, errno);
  }
  return Status::Ok();
}

namespace {
int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return ::remove(path) == 0 || errno == ENOENT ? 0 : -1;
}
}  // namespace

Status RemoveTree(const std::string& path) {
  if (!Exists(path)) return Status::Ok();
  if (::nftw(path.c_str(), RemoveEntry, 64, FTW_DEPTH | FTW_PHYS) != 0) {
    return Status::FromErrno("cannot remove " + path, errno);
  }
  return Status::Ok();
}

namespace {
thread_local int64_t g_tree_bytes = 0;
int AddFileSize(const char*, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_F) g_tree_bytes += st->st_size;
  return 0;
}
}  // namespace

Status TreeBytes(const std::string& path, int64_t* bytes) {
  g_tree_bytes = 0;
  if (::nftw(path.c_str(), AddFileSize, 64, FTW_PHYS) != 0) {
    return Status::FromErrno("cannot measure " + path, errno);
  }
  *bytes = g_tree_bytes;
  return Status::Ok();
}

Status FreeBytes(const std::string& path, int64_t* bytes, int64_t* total) {
  struct statvfs vfs;
  if (::statvfs(path.c_str(), &vfs) != 0) return Status::FromErrno("cannot statvfs " + path, errno);
  *bytes = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
  if (total) *total = static_cast<int64_t>(vfs.f_blocks) * static_cast<int64_t>(vfs.f_frsize);
  return Status::Ok();
}

Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::FromErrno("cannot rename " + from + " to " + to, errno);
  }
  return Status::Ok();
}

Status ListDir(const std::string& path, std::vector<std::string>* names) {
  names->clear();
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return Status::FromErrno("cannot read directory " + path, errno);
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names->push_back(name);
  }
  ::closedir(dir);
  std::sort(names->begin(), names->end());
  return Status::Ok();
}

Status SyncDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open directory " + path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("cannot sync directory " + path, err);
  return Status::Ok();
}

namespace {

// The temp file, then a rename; synced to disk first when sync.
Status ReplaceFile(const std::string& path, const std::string& content, mode_t mode, bool sync) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno("cannot write " + tmp, errno);
  ::fchmod(fd, mode);  // the umask must not widen or narrow it
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::FromErrno("cannot write " + tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  if (sync && ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("cannot sync " + tmp, err);
  }
  ::close(fd);
  PGK_RETURN_IF_ERROR(Rename(tmp, path));
  return sync ? SyncDir(Dirname(path)) : Status::Ok();
}

}  // namespace

Status WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode) {
  return ReplaceFile(path, content, mode, true);
}

Status WriteFileUnsynced(const std::string& path, const std::string& content, mode_t mode) {
  return ReplaceFile(path, content, mode, false);
}

Status CopyFileHead(const std::string& from, const std::string& to, int64_t head_bytes,
                    mode_t mode) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status::FromErrno("cannot read " + from, errno);
  struct stat st;
  if (::fstat(in, &st) != 0) {
    int err = errno;
    ::close(in);
    return Status::FromErrno("cannot stat " + from, err);
  }
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return Status::FromErrno("cannot create " + to, err);
  }
  auto fail = [&](const std::string& what, int err) {
    ::close(in);
    ::close(out);
    return Status::FromErrno(what, err);
  };
  int64_t left = head_bytes < 0 ? st.st_size : std::min<int64_t>(head_bytes, st.st_size);
  char buf[1 << 16];
  while (left > 0) {
    ssize_t n = ::read(in, buf, static_cast<size_t>(std::min<int64_t>(left, sizeof(buf))));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read " + from, errno);
    if (n == 0) break;  // the file shrank under us: keep what was there
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail("cannot write " + to, errno);
      off += w;
    }
    left -= n;
  }
  if (::ftruncate(out, st.st_size) != 0) return fail("cannot extend " + to, errno);
  if (::fsync(out) != 0) return fail("cannot sync " + to, errno);
  ::close(in);
  ::close(out);
  return Status::Ok();
}

namespace {
uid_t g_uid;
gid_t g_gid;
int ChownEntry(const char* path, const struct stat*, int, struct FTW*) {
  return ::lchown(path, g_uid, g_gid);
}
}  // namespace

Status ChownTree(const std::string& path, uid_t uid, gid_t gid) {
  g_uid = uid;
  g_gid = gid;
  if (::nftw(path.c_str(), ChownEntry, 64, FTW_PHYS) != 0) {
    return Status::FromErrno("cannot change owner of " + path, errno);
  }
  return Status::Ok();
}

}  // namespace pgkeeper

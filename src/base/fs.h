// Small filesystem helpers; every failure becomes a Status naming the path.
#ifndef PGKEEPER_FS_H_
#define PGKEEPER_FS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace pgkeeper {

// Reads a whole file from disk (also config's real FileReader).
Status ReadWholeFile(const std::string& path, std::string* out);

bool Exists(const std::string& path);
// mkdir -p with the given mode for directories it creates.
Status MakeDirs(const std::string& path, mode_t mode);
// rm -rf; a missing path is fine.
Status RemoveTree(const std::string& path);
Status Rename(const std::string& from, const std::string& to);
// Entries of a directory, without "." and "..", sorted.
Status ListDir(const std::string& path, std::vector<std::string>* names);
// Writes content to path atomically (temp file, fsync, rename) with mode.
Status WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode);
// The same without the syncs: readers see the old content or the new, but a
// crash may lose it. For files that mean nothing after one (a command's
// request and its answer), where two syncs would be milliseconds waited for.
Status WriteFileUnsynced(const std::string& path, const std::string& content, mode_t mode);
// Copies the first head_bytes of from (all of it if head_bytes < 0) to a new
// file to, gives it from's full length (the rest a hole, read as zeros) and
// fsyncs it. Fails if to exists.
Status CopyFileHead(const std::string& from, const std::string& to, int64_t head_bytes, mode_t mode);
// fsync a directory so renames in it are durable.
Status SyncDir(const std::string& path);
// chown -R.
Status ChownTree(const std::string& path, uid_t uid, gid_t gid);
// Bytes that the regular files under path occupy (du -s, apparent size).
Status TreeBytes(const std::string& path, int64_t* bytes);
// Bytes an unprivileged user may still write on the file system holding
// path, and (when total is given) its size.
Status FreeBytes(const std::string& path, int64_t* bytes, int64_t* total = nullptr);
// Parent directory of an absolute path ("/a/b" -> "/a").
std::string Dirname(const std::string& path);
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace pgkeeper

#endif  // PGKEEPER_FS_H_

#include "base/log.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace pgkeeper {
namespace {

std::mutex g_log_mutex;

void WriteLine(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::string out = line;
  out.push_back('\n');
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::write(STDERR_FILENO, out.data() + off, out.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void Log(const char* level, const std::string& msg) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char stamp[64];
  snprintf(stamp, sizeof(stamp), "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           static_cast<int>(tv.tv_usec / 1000));
  WriteLine(std::string(stamp) + " pgkeeper[" + std::to_string(getpid()) + "] " + level + ":  " +
            msg);
}

}  // namespace

void LogInfo(const std::string& msg) { Log("LOG", msg); }
void LogWarn(const std::string& msg) { Log("WARNING", msg); }
void LogError(const std::string& msg) { Log("ERROR", msg); }
void LogRaw(const std::string& line) { WriteLine(line); }

std::string UtcNow(const char* format) {
  char buf[64];
  time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  size_t n = strftime(buf, sizeof(buf), format, &tm);
  return std::string(buf, n);
}

}  // namespace pgkeeper

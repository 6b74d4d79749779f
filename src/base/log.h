// Logging: one line per event on stderr, "<time> pgkeeper[pid] LEVEL: text".
// Callers never pass secrets; nothing here inspects text.
#ifndef PGKEEPER_LOG_H_
#define PGKEEPER_LOG_H_

#include <string>

namespace pgkeeper {

void LogInfo(const std::string& msg);
void LogWarn(const std::string& msg);
void LogError(const std::string& msg);
// Writes a line that already has its own prefix (e.g. postgres' stderr).
void LogRaw(const std::string& line);

// The wall clock now in UTC, formatted by strftime (e.g. "%Y%m%dT%H%M%SZ").
std::string UtcNow(const char* format);

}  // namespace pgkeeper

#endif  // PGKEEPER_LOG_H_

// What `pgkeeper run` does when postgres exits without being asked to:
// start it again in place, as DecideAfterCrash (plan.h) says, or give up so
// that the container's restart policy takes over (docs/design.md, "When
// postgres exits on its own").
#ifndef PGKEEPER_RESTART_H_
#define PGKEEPER_RESTART_H_

#include <chrono>
#include <string>
#include <vector>

#include "node.h"
#include "plan.h"
#include "postgresql/postmaster.h"

namespace pgkeeper {

// Unexpected exits of postgres in the last kRestartWindowMinutes.
class CrashLog {
 public:
  // How many the window holds now.
  int Count() {
    auto now = std::chrono::steady_clock::now();
    while (!times_.empty() && now - times_.front() > std::chrono::minutes(kRestartWindowMinutes)) {
      times_.erase(times_.begin());
    }
    return static_cast<int>(times_.size());
  }
  void Note() { times_.push_back(std::chrono::steady_clock::now()); }

 private:
  std::vector<std::chrono::steady_clock::time_point> times_;
};

// Starts postgres again in place after it exited on its own, as
// DecideAfterCrash says (after a full disk: once it has room again); a
// start that fails counts as one more exit.
// Returns false (with *code) when pgkeeper should exit instead.
bool RestartAfterCrash(const Node& n, Postmaster& pm, CrashLog& crashes, std::string how, int* code);

}  // namespace pgkeeper

#endif  // PGKEEPER_RESTART_H_

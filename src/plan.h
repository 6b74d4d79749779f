// The decision: what `pgkeeper run` does for a configuration and a data
// directory state, and why. Pure; every combination is unit-tested.
#ifndef PGKEEPER_PLAN_H_
#define PGKEEPER_PLAN_H_

#include <string>

#include "config.h"
#include "datadir.h"
#include "status.h"

namespace pgkeeper {

enum class Action {
  kInitMaster,     // initdb, users, databases, extensions, init scripts; then run
  kStartMaster,    // run the existing master data
  kClone,          // copy the master into an empty data directory; run as standby
  kReclone,        // copy the master beside the existing data, then swap; run as standby
  kResumeStandby,  // run the existing standby data and stream from where it stopped
  kPromote,        // run the existing standby data and promote it
  kRefuse,         // do nothing; exit with refuse_code
};

struct Plan {
  Action action = Action::kRefuse;
  std::string reason;  // one sentence, logged as "decision: <reason>"
  ExitCode refuse_code = ExitCode::kState;
};

Plan Decide(const Config& config, DataDirState state);
const char* ActionName(Action action);

}  // namespace pgkeeper

#endif  // PGKEEPER_PLAN_H_

// Following another upstream than REPLICATE_FROM names: `pgkeeper follow
// HOST[:PORT]` repoints a running replicant (after a promotion, typically)
// without a restart and without a copy. The choice is kept in
// $PGDATA/pgkeeper.follow together with the REPLICATE_FROM and
// REPLICATE_PORT it overrode, so it lasts across restarts until those
// variables themselves change. Pure parsing and deciding here; keeper.cc
// carries it out.
#ifndef PGKEEPER_FOLLOW_H_
#define PGKEEPER_FOLLOW_H_

#include <optional>
#include <string>

#include "config/config.h"
#include "base/status.h"
#include "base/values.h"

namespace pgkeeper {

inline constexpr const char kFollowFile[] = "pgkeeper.follow";
// In PGKEEPER_RUN_DIR: the upstream `pgkeeper follow` asks for, taken by the
// running supervisor (woken by SIGUSR1), and its one-line outcome.
inline constexpr const char kFollowRequestFile[] = "pgkeeper.follow-request";
inline constexpr const char kFollowResultFile[] = "pgkeeper.follow-result";

// An upstream is a host and a port (values.h: ParseHostPort).
using Upstream = HostPort;

// A live `follow`, with the environment it overrode.
struct FollowRecord {
  Upstream upstream;  // followed now
  Upstream env;       // REPLICATE_FROM / REPLICATE_PORT when it was set
  std::string since;  // when, for people (UTC)
};

std::string RenderFollowRecord(const FollowRecord& r);
// False when text is not a complete record.
bool ParseFollowRecord(const std::string& text, FollowRecord* r);

// The upstream a replicant follows at start.
struct UpstreamChoice {
  Upstream upstream;
  bool keep_record = false;  // false: a record there is stale and is removed
  std::string reason;        // logged; empty when there is no record
};
UpstreamChoice ChooseUpstream(const Config& config, const std::optional<FollowRecord>& record);

}  // namespace pgkeeper

#endif  // PGKEEPER_FOLLOW_H_

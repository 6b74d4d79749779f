// Replication slots. Every replicant streams through a physical slot on its
// upstream (the master, or the replicant it cascades from), named after the
// replicant and made by the replicant itself over a replication connection,
// so the upstream keeps exactly the WAL the replicant still needs, up to
// WAL_RETAIN_MAX (max_slot_wal_keep_size).
//
// Slots are never dropped automatically: a replicant that is away for a
// while should come back without a copy, and the cap bounds what its slot
// can cost. `pgkeeper drop-slot NAME` drops one whose replicant is gone for
// good (docs/design.md, "Replication slots").
#ifndef PGKEEPER_SLOTS_H_
#define PGKEEPER_SLOTS_H_

#include <string>

#include "config/config.h"
#include "postgresql/pg.h"
#include "base/status.h"

namespace pgkeeper {

// The name a node goes by: PGKEEPER_NODE_NAME, or else the host name.
std::string NodeName(const Config& config, const std::string& hostname);

// The slot of the replicant called node_name: lower-case letters, digits and
// '_' (what PostgreSQL allows), at most 63 characters.
std::string SlotName(const std::string& node_name);

// What READ_REPLICATION_SLOT says about the slot on the upstream.
struct UpstreamSlot {
  bool exists = false;
  bool physical = true;
  std::string restart_lsn;  // empty: the slot holds no WAL (invalidated, or never reserved)
};

enum class SlotStep {
  kUse,       // the slot exists and holds WAL: stream through it
  kCreate,    // no such slot: create it, reserving WAL at once
  kRecreate,  // the slot holds no WAL: drop it and create it again
  kRefuse,    // a logical slot has the name: leave it alone
};

struct SlotDecision {
  SlotStep step = SlotStep::kRefuse;
  std::string reason;  // one sentence for the log
};

// Pure: what to do with the slot `name` on `upstream` (for messages).
SlotDecision DecideSlot(const std::string& name, const std::string& upstream,
                        const UpstreamSlot& slot);

// Makes sure the slot exists on the upstream and holds WAL, over a
// replication connection with `params` (the replication role suffices).
// *sentence gets what was found and done.
Status EnsureUpstreamSlot(const ConnParams& params, const std::string& name,
                          const std::string& upstream, std::string* sentence);

// `pgkeeper ensure-slot`, run by `pgkeeper run` as its own child (a SCRAM
// login starts OpenSSL, which would stay resident in the supervisor): makes
// sure this replicant's slot exists on REPLICATE_FROM and prints one line.
int RunEnsureSlot(const Env& env);

// Drops the local slot `name` (REQUIRES: connected as superuser); refuses a
// slot that a replicant streams through right now.
Status DropLocalSlot(PgConn& conn, const std::string& name);

}  // namespace pgkeeper

#endif  // PGKEEPER_SLOTS_H_

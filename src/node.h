// Node: what the executor of `pgkeeper run` knows about itself, gathered
// once, and the small steps every part of it uses: the environment of
// children, PostgreSQL's configuration files, the replicant's password file,
// and this binary started again as a short-lived child.
#ifndef PGKEEPER_NODE_H_
#define PGKEEPER_NODE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "postgresql/follow.h"
#include "monitor.h"
#include "base/process.h"
#include "base/status.h"
#include "postgresql/sync.h"

namespace pgkeeper {

inline constexpr int kStartTimeoutMs = 10 * 60 * 1000;  // crash recovery may take long

// Facts about the process pgkeeper runs as, after dropping privileges.
struct Identity {
  std::string os_user;
  std::string home = "/";
  std::string hostname = "pgkeeper";
  std::string node_name;  // PGKEEPER_NODE_NAME or the host name
};

// Everything the executor needs, gathered once.
struct Node {
  Config config;
  Env env;          // pgkeeper's own environment, for the apply-master child
  SelfBinary self;  // this binary, opened before privileges were dropped
  Identity id;
  std::vector<std::string> ranges;  // resolved ALLOW_IP_RANGE
  Monitor* monitor = nullptr;       // set once the run directory exists
  // A replicant's upstream is config.replicate_from/port: REPLICATE_FROM, or
  // what `pgkeeper follow` chose (follow holds that record) while
  // REPLICATE_FROM stays env_upstream.
  Upstream env_upstream;
  std::optional<FollowRecord> follow;
  // What synchronous_standby_names asks for now (sync.h); nothing while a
  // new master is made, so that its first-start work never waits for a
  // replicant.
  StandbyList sync;
};

// The environment children get: PATH, LANG, HOME (and TZ if set); no secrets.
std::vector<std::string> BaseEnv(const Node& n);

// pg_hba.conf, pg_ident.conf and pgkeeper.conf in datadir, and the include
// line in its postgresql.conf; primary_conninfo when standby.
Status WriteConfigFiles(const Node& n, const std::string& datadir, bool standby);
// The replicant's password file for its upstream, in PGKEEPER_RUN_DIR.
Status WritePassFile(const Node& n);

// "host:port" of the upstream this node follows.
std::string MasterName(const Config& c);

// Runs `pgkeeper <command>` as a short-lived child with pgkeeper's own
// environment (and the node's name and upstream); its output lines go to
// on_line.
Status RunSelfChild(const Node& n, const std::string& command,
                    const std::function<void(const std::string&)>& on_line,
                    const std::vector<std::string>& args = {});
// The same in two halves, to run beside other tools (RunTools): the spec,
// and the child's result as RunSelfChild would return it.
SpawnSpec SelfChildSpec(const Node& n, const std::string& command,
                        const std::vector<std::string>& args = {});
Status SelfChildStatus(const Node& n, const std::string& command, const Status& st);

// Makes sure this replicant's slot exists on its upstream; *sentence gets
// what the child found and did (or why it could not).
Status EnsureSlotInChild(const Node& n, std::string* sentence);
// The same in two halves, for RunTools. REQUIRES: *sentence outlives the run.
ToolRun EnsureSlotRun(const Node& n, std::string* sentence);
Status EnsureSlotResult(const Node& n, const Status& st, std::string* sentence);

}  // namespace pgkeeper

#endif  // PGKEEPER_NODE_H_

// The small subcommands run next to a live node (docker exec): health,
// status and promote.
#ifndef PGKEEPER_COMMANDS_H_
#define PGKEEPER_COMMANDS_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "config/config.h"

namespace pgkeeper {

using Args = std::vector<std::string>;

// `pgkeeper health [--ready|--live]`: one line; exit 0 when healthy.
int RunHealth(const Env& env, const Args& args);
// `pgkeeper status [--json]`: role, phase, LSNs, lag, replicants.
int RunStatus(const Env& env, const Args& args);
// `pgkeeper promote`: promote this running replicant now.
int RunPromote(const Env& env, const Args& args);
// `pgkeeper follow HOST[:PORT]`: repoint this running replicant, live.
int RunFollow(const Env& env, const Args& args);
// Leaves a request for the running supervisor (pid) in the run directory
// under request_file and wakes it with SIGUSR1; it carries the request out
// between its checks. Cluster mode's agent asks its own supervisor this way
// and waits for no answer.
Status LeaveRequest(const Config& c, int pid, const char* request_file, const std::string& request);
// Waits up to timeout for the supervisor's one-line answer to a request
// left under request_file: "ok: ..." gives Ok and the rest in *answer; any
// other answer is Status::State with pgkeeper's words. On a timeout, or when
// cancelled (optional) says true, the request is withdrawn.
Status AwaitAnswer(const Config& c, const char* request_file, const char* result_file,
                   std::chrono::seconds timeout, std::string* answer,
                   const std::function<bool()>& cancelled = {});
// Asks the running supervisor (pid) to carry out a request and waits for
// its answer (LeaveRequest, then AwaitAnswer), as `follow`, `promote`,
// `reload` and the API's POST endpoints do; the answer comes back under
// result_file.
Status AskKeeper(const Config& c, int pid, const char* request_file, const char* result_file,
                 const std::string& request, std::chrono::seconds timeout, std::string* answer,
                 const std::function<bool()>& cancelled = {});

// `pgkeeper reload`: load a changed SSL_CERT_FILE/SSL_KEY_FILE/SSL_CA_FILE
// now (checked first; the old pair stays on failure) and reload postgres.
int RunReload(const Env& env, const Args& args);
// `pgkeeper drop-slot NAME`: drop a replication slot nobody streams through.
int RunDropSlot(const Env& env, const Args& args);

}  // namespace pgkeeper

#endif  // PGKEEPER_COMMANDS_H_

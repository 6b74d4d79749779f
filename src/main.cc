// pgkeeper: the container entrypoint. main() only dispatches subcommands.
#include <iostream>
#include <string>
#include <vector>

#include "postgresql/bootstrap.h"
#include "cluster/cluster.h"
#include "commands.h"
#include "config/config.h"
#include "keeper.h"
#include "base/log.h"
#include "base/process.h"
#include "postgresql/peers.h"
#include "postgresql/rewind.h"
#include "postgresql/slots.h"
#include "postgresql/tls.h"

extern char** environ;

namespace {

using pgkeeper::Args;
using pgkeeper::Env;

struct Command {
  const char* name;
  const char* help;
  int (*run)(const Env& env, const Args& args);
};

int RunCommand(const Env& env, const Args& args) {
  if (!args.empty()) {
    std::cerr << "pgkeeper: run takes no options; configuration comes from the environment\n";
    return 2;
  }
  pgkeeper::Status st = pgkeeper::InitSignals();
  if (!st.ok()) {
    pgkeeper::LogError(st.message());
    return st.exit_code();
  }
  return pgkeeper::RunKeeper(env);
}

const Command kCommands[] = {
    {"run", "prepare the data directory and run postgres as a child (the entrypoint)", RunCommand},
    {"health", "[--ready|--live] exit 0 when this node is healthy (for HEALTHCHECK)",
     pgkeeper::RunHealth},
    {"status", "[--json] role, phase, LSNs, lag and replicants of this node", pgkeeper::RunStatus},
    {"promote", "[--force]  check, then promote this running replicant to master now, and report what it may cost",
     pgkeeper::RunPromote},
    {"follow", "HOST[:PORT]  make this running replicant follow another node, live, no copy",
     pgkeeper::RunFollow},
    {"reload", "check and load changed TLS files (SSL_CERT_FILE, ...) and reload postgres, no restart",
     pgkeeper::RunReload},
    {"drop-slot", "NAME  drop the replication slot of a replicant that is gone for good",
     pgkeeper::RunDropSlot},
    {"switchover", "[--to NODE]  cluster mode: the master hands over to NODE (or the node with the most WAL)",
     pgkeeper::RunSwitchover},
    {"apply-master", "(internal, run by `run`) set roles, databases and extensions, then exit",
     [](const Env& env, const Args&) { return pgkeeper::RunApplyMaster(env); }},
    {"upstream-facts", "(internal, run by `run`) the upstream's history for a rejoin, as JSON",
     [](const Env& env, const Args& args) { return pgkeeper::RunUpstreamFacts(env, args); }},
    {"ensure-slot", "(internal, run by `run`) make sure this replicant's slot exists upstream",
     [](const Env& env, const Args&) { return pgkeeper::RunEnsureSlot(env); }},
    {"upstream-replicants", "(internal, run by `run`) the replicants of this node's upstream, as JSON",
     pgkeeper::RunUpstreamReplicants},
    {"promote-facts", "(internal, run by `run`) the old master and the peers before a promotion",
     pgkeeper::RunPromoteFacts},
    {"upstream-tls", "(internal, run by `run`) verify the upstream's certificate with SSL_CA_FILE",
     pgkeeper::RunUpstreamTls},
};

int Usage(std::ostream& out, int code) {
  out << "usage: pgkeeper <command> [options]\n\ncommands:\n";
  for (const auto& c : kCommands) out << "  " << c.name << "\t" << c.help << "\n";
  out << "\nConfiguration comes from environment variables; see README.md.\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage(std::cerr, 2);
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") return Usage(std::cout, 0);
  if (name == "--version" || name == "version") {
    std::cout << "pgkeeper " PGKEEPER_VERSION "\n";
    return 0;
  }
  Args args(argv + 2, argv + argc);
  for (const auto& c : kCommands) {
    if (name == c.name) return c.run(pgkeeper::EnvFromEnviron(environ), args);
  }
  std::cerr << "pgkeeper: unknown command '" << name << "'\n";
  return Usage(std::cerr, 2);
}

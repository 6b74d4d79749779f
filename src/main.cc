// pgkeeper: the container entrypoint. main() only dispatches subcommands.
#include <cstring>
#include <iostream>

#include "config.h"
#include "keeper.h"
#include "log.h"
#include "process.h"

extern char** environ;

namespace {

struct Command {
  const char* name;
  const char* help;
  int (*run)(const pgkeeper::Env& env);
};

int RunCommand(const pgkeeper::Env& env) {
  pgkeeper::Status st = pgkeeper::InitSignals();
  if (!st.ok()) {
    pgkeeper::LogError(st.message());
    return st.exit_code();
  }
  return pgkeeper::RunKeeper(env);
}

const Command kCommands[] = {
    {"run", "prepare the data directory and run postgres as a child (the entrypoint)", RunCommand},
    {"health", "exit 0 when this node serves queries (for HEALTHCHECK)", pgkeeper::RunHealth},
};

int Usage(std::ostream& out, int code) {
  out << "usage: pgkeeper <command>\n\ncommands:\n";
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
    std::cout << "pgkeeper 0.1.0\n";
    return 0;
  }
  if (argc > 2) {
    std::cerr << "pgkeeper: " << name << " takes no arguments\n";
    return 2;
  }
  for (const auto& c : kCommands) {
    if (name == c.name) return c.run(pgkeeper::EnvFromEnviron(environ));
  }
  std::cerr << "pgkeeper: unknown command '" << name << "'\n";
  return Usage(std::cerr, 2);
}

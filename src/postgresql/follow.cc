#include "postgresql/follow.h"

#include <algorithm>
#include <cctype>

#include "postgresql/datadir.h"

namespace pgkeeper {

std::string RenderFollowRecord(const FollowRecord& r) {
  return "# Written by `pgkeeper follow`: the upstream this replicant follows instead of\n"
         "# REPLICATE_FROM, kept until REPLICATE_FROM or REPLICATE_PORT change.\n"
         "host=" + r.upstream.host + "\nport=" + std::to_string(r.upstream.port) +
         "\nenv_host=" + r.env.host + "\nenv_port=" + std::to_string(r.env.port) +
         "\nsince=" + r.since + "\n";
}

bool ParseFollowRecord(const std::string& text, FollowRecord* r) {
  auto get = [&](const char* key) { return StateValue(text, key); };
  auto host = get("host"), port = get("port"), env_host = get("env_host"), env_port = get("env_port");
  if (!host || !port || !env_host || !env_port) return false;
  auto make = [](const std::string& h, const std::string& p, Upstream* u) {
    std::string text = h.find(':') != std::string::npos ? "[" + h + "]:" + p : h + ":" + p;
    return ParseHostPort(text, 0, u).ok();
  };
  FollowRecord out;
  if (!make(*host, *port, &out.upstream) || !make(*env_host, *env_port, &out.env)) return false;
  out.since = get("since").value_or("");
  *r = out;
  return true;
}

UpstreamChoice ChooseUpstream(const Config& c, const std::optional<FollowRecord>& record) {
  const Upstream env{c.replicate_from, c.replicate_port};
  UpstreamChoice choice;
  choice.upstream = env;
  if (!record) return choice;
  if (record->env == env) {
    choice.upstream = record->upstream;
    choice.keep_record = true;
    choice.reason = "following " + record->upstream.Name() + " as `pgkeeper follow` asked" +
                    (record->since.empty() ? "" : " at " + record->since) +
                    "; REPLICATE_FROM still names " + env.Name() +
                    " (change it to end this)";
    return choice;
  }
  choice.reason = "following " + env.Name() + ": REPLICATE_FROM changed from " +
                  record->env.Name() + " since `pgkeeper follow` chose " +
                  record->upstream.Name() + ", so that choice is dropped";
  return choice;
}

}  // namespace pgkeeper

#include "follow.h"

#include <algorithm>
#include <cctype>

#include "datadir.h"

namespace pgkeeper {

std::string Upstream::Name() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Status ParseUpstream(const std::string& text, int default_port, Upstream* out) {
  auto bad = [&](const std::string& why) {
    return Status::Usage("'" + text + "' is not an upstream: " + why +
                         "; expected HOST, HOST:PORT or [IPV6]:PORT");
  };
  std::string host = text;
  std::string port;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string::npos) return bad("no closing ']'");
    std::string rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad("expected ':' after ']'");
      port = rest.substr(1);
    }
  } else if (size_t colon = host.find(':'); colon != std::string::npos) {
    if (host.find(':', colon + 1) != std::string::npos) return bad("write an IPv6 address in []");
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (!IsValidHost(host)) return bad("the host is not a host name or IP address");
  Upstream u{host, default_port};
  if (!port.empty()) {
    bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                    return std::isdigit(static_cast<unsigned char>(c));
                  });
    if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
      return bad("the port is not a number from 1 to 65535");
    }
    u.port = std::stoi(port);
  }
  *out = u;
  return Status::Ok();
}

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
    return ParseUpstream(text, 0, u).ok();
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

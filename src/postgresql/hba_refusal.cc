#include "postgresql/hba_refusal.h"

namespace pgkeeper {
namespace {

// The value of `key "value"` in line after pos; empty when absent.
std::string Quoted(const std::string& line, const std::string& key) {
  const std::string open = key + " \"";
  size_t at = line.find(open);
  if (at == std::string::npos) return "";
  at += open.size();
  size_t end = line.find('"', at);
  return end == std::string::npos ? "" : line.substr(at, end - at);
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

}  // namespace

std::optional<HbaRefusal> ParseHbaRefusal(const std::string& line) {
  const bool missing = line.find("no pg_hba.conf entry for ") != std::string::npos;
  const bool rejected = line.find("pg_hba.conf rejects ") != std::string::npos;
  if (!missing && !rejected) return std::nullopt;
  HbaRefusal r;
  r.host = Quoted(line, "host");
  r.user = Quoted(line, "user");
  r.database = Quoted(line, "database");
  if (r.host.empty()) return std::nullopt;  // a local (socket) connection has no host
  r.replication = line.find("replication connection") != std::string::npos;
  r.without_tls = rejected && line.find("no encryption") != std::string::npos;
  r.upstream = line.find("connection to server at ") != std::string::npos ||
               line.find("could not connect to the primary server") != std::string::npos;
  return r;
}

std::string DescribeRefusal(const HbaRefusal& r, const std::string& allow_ip_range,
                            const std::vector<std::string>& ranges) {
  const std::string who = std::string(r.replication ? "a replication connection" : "a connection") +
                          " from " + r.host + " (user " + r.user +
                          (r.database.empty() ? "" : ", database " + r.database) + ")";
  if (r.without_tls) {
    return "refused " + who + " because it does not use TLS and FORCE_SSL=True on this node; "
           "to let it in, connect with sslmode=require or stronger (a pgkeeper replicant does "
           "unless PGKEEPER_TLS=False there)";
  }
  const std::string host = r.host.find(':') == std::string::npos ? r.host + "/32" : r.host + "/128";
  const std::string now = allow_ip_range.empty()
                              ? "unset, so this node's own networks: " + Join(ranges)
                              : allow_ip_range;
  const std::string wanted = allow_ip_range.empty() ? Join(ranges) + "," + host
                                                    : allow_ip_range + "," + host;
  return "refused " + who + ": " + r.host + " is not in ALLOW_IP_RANGE (" + now +
         "); it is the address this node sees, after any port publishing or NAT. To let it in, "
         "set ALLOW_IP_RANGE=" + wanted + " (or a range holding " + r.host + ") on this node";
}

std::string DescribeUpstreamRefusal(const HbaRefusal& r, const std::string& upstream) {
  const std::string what = r.replication ? "replication connection" : "connection";
  if (r.without_tls) {
    return "the master " + upstream + " refused this node's " + what + " because it did not use "
           "TLS (FORCE_SSL=True there). To fix: remove PGKEEPER_TLS=False here, or set "
           "FORCE_SSL=False on the master";
  }
  const std::string host = r.host.find(':') == std::string::npos ? r.host + "/32" : r.host + "/128";
  return "the master " + upstream + " refused this node's " + what + " (user " + r.user +
         "): it sees this node's connections coming from " + r.host + ", which its "
         "ALLOW_IP_RANGE does not hold. That address is the one the master sees after port "
         "publishing or NAT, not necessarily this node's own. To fix: on the master, add " + host +
         " to ALLOW_IP_RANGE (its log and `pgkeeper status` name the same address)";
}

}  // namespace pgkeeper

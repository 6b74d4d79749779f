// What a master says when its pg_hba.conf turns a connection away, so that
// the fix is one line: the address PostgreSQL saw (after Docker's port
// publishing, which may not be the address the client thinks it has), the
// user, whether it was replication, and why (not in ALLOW_IP_RANGE, or
// without TLS under FORCE_SSL). Pure parsing and wording; keeper.cc feeds
// postgres' log lines in and logs and shows the outcome (issue 12).
#ifndef PGKEEPER_HBA_REFUSAL_H_
#define PGKEEPER_HBA_REFUSAL_H_

#include <optional>
#include <string>
#include <vector>

namespace pgkeeper {

struct HbaRefusal {
  std::string host;       // the address postgres saw
  std::string user;
  std::string database;   // empty for replication
  bool replication = false;
  bool without_tls = false;  // turned away by FORCE_SSL's reject lines
  // The line is libpq's error on this node's side ("connection to server at
  // ... failed: FATAL: no pg_hba.conf entry ..."): its upstream refused it.
  bool upstream = false;
};

// Reads one of postgres' FATAL lines: "no pg_hba.conf entry for
// [replication connection from ]host "H", user "U"[, database "D"], ..." or
// "pg_hba.conf rejects [replication ]connection for host ...", as a server
// logs it or as a client (pg_basebackup, the walreceiver) reports it. nullopt
// for any other line.
std::optional<HbaRefusal> ParseHbaRefusal(const std::string& line);

// The sentence pgkeeper logs and shows: who was refused, why, and the one
// change that lets it in. allow_ip_range: ALLOW_IP_RANGE as given (empty:
// unset); ranges: what the node allows now.
std::string DescribeRefusal(const HbaRefusal& r, const std::string& allow_ip_range,
                            const std::vector<std::string>& ranges);

// The sentence a replicant logs and shows when its upstream (upstream:
// "host:port") refused it: the address the upstream saw it come from, and
// the change to make there.
std::string DescribeUpstreamRefusal(const HbaRefusal& r, const std::string& upstream);

}  // namespace pgkeeper

#endif  // PGKEEPER_HBA_REFUSAL_H_

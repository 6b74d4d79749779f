// The network side of a promotion (promote.h holds the pure side), run as
// short-lived children of `pgkeeper run` because their SCRAM logins start
// OpenSSL, which would otherwise stay resident in the supervisor:
//
// - `pgkeeper upstream-replicants` asks this replicant's upstream which
//   replicants stream from it (pg_stat_replication; every replicant logs in
//   as the same role, so the replication role sees them all) and its
//   synchronous_standby_names, and prints a PeerList. The keeper runs it
//   now and then while streaming and keeps the answer in $PGDATA.
// - `pgkeeper promote-facts` asks, just before a promotion, whether the old
//   master still answers and takes writes, and how much WAL each other
//   replicant has received, and prints them as JSON.
#ifndef PGKEEPER_PEERS_H_
#define PGKEEPER_PEERS_H_

#include <string>
#include <vector>

#include "config/config.h"
#include "postgresql/promote.h"

namespace pgkeeper {

int RunUpstreamReplicants(const Env& env, const std::vector<std::string>& args);
int RunPromoteFacts(const Env& env, const std::vector<std::string>& args);

// The peers to ask before promoting the node called self_name: PGKEEPER_PEERS
// when set, else what the master listed (this node left out), at their
// address on this node's PGPORT. Pure.
std::vector<Peer> PeersToAsk(const Config& config, const PeerList& listed,
                             const std::string& self_name);

// Parses what `promote-facts` printed into *f (upstream and peers only).
bool ParsePromoteFacts(const std::string& text, PromoteFacts* f);

}  // namespace pgkeeper

#endif  // PGKEEPER_PEERS_H_

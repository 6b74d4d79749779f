// Promotion that knows what it costs. Before a replicant is promoted,
// pgkeeper looks at what it can reach: the old master (still writable? then
// promoting would make two writable masters) and the other replicants of
// that master (has one received more WAL? then promoting this one loses
// what only that one has). After the promotion it reports what may be lost:
// the WAL the old master was last known to have beyond the promotion point,
// and anything it wrote after its last message here.
//
// The pure part lives here; `pgkeeper promote-facts` gathers the remote
// facts in a child (its logins start OpenSSL), and the keeper carries the
// decision out (docs/design.md, "Promotion").
#ifndef PGKEEPER_PROMOTE_H_
#define PGKEEPER_PROMOTE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "postgresql/rejoin.h"

namespace pgkeeper {

// What this replicant last heard from its upstream while streaming
// (pg_stat_wal_receiver.latest_end_lsn and latest_end_time): the upstream's
// flushed WAL as of its last message. Kept in $PGDATA so that a promotion
// after a restart still knows it.
inline constexpr const char kHeardFile[] = "pgkeeper.heard";
struct Heard {
  std::string upstream;  // host:port
  Lsn end = 0;           // 0: nothing heard yet
  int64_t at_ms = 0;     // wall clock of that message, ms since the epoch
};
std::string RenderHeard(const Heard& h);
bool ParseHeard(const std::string& text, Heard* h);

// The other replicants of this node's master, as the master listed them
// (pg_stat_replication), kept in $PGDATA and refreshed while streaming.
inline constexpr const char kPeersFile[] = "pgkeeper.peers";
struct Peer {
  std::string name;     // application_name
  std::string address;  // client address
};
struct PeerList {
  int64_t at_ms = 0;              // when the master was asked
  std::string standby_names;      // the master's synchronous_standby_names then
  std::vector<Peer> peers;        // every replicant of the master, this one included
};
std::string RenderPeerList(const PeerList& p);
bool ParsePeerList(const std::string& text, PeerList* p);

// One peer as `promote-facts` found it just now.
struct PeerPosition {
  Peer peer;
  bool reached = false;
  bool in_recovery = true;
  Lsn received = 0;  // pg_last_wal_receive_lsn() (0: none)
  std::string error;
};

struct PromoteFacts {
  bool force = false;
  std::string upstream;          // host:port of the master this node followed
  bool upstream_reached = false;
  bool upstream_writable = false;
  Lsn received = 0;              // this node: WAL received (replayed before promotion)
  std::vector<PeerPosition> peers;  // this node left out
  Heard heard;
  int64_t now_ms = 0;
  int sync_required = 0;         // SYNCHRONOUS_REPLICANTS
  bool sync_strict = true;
  PeerList peer_list;            // what the master listed last
  std::string self;              // this node's application_name
};

struct PromoteDecision {
  bool go = false;
  std::string reason;  // why not (with what to do), or what was checked
};

// Refuses while the old master is still writable, or while a reachable
// peer has received more WAL than this node (naming it); force overrides
// both, and says what it overrode.
PromoteDecision DecidePromote(const PromoteFacts& f);

// What the promotion may have cost, in a few sentences: promoted_at is
// where this node's new timeline begins.
struct PromotionReport {
  Lsn promoted_at = 0;
  Lsn master_known = 0;      // the old master's WAL end last heard (0: unknown)
  int64_t known_missing = 0; // bytes of it past promoted_at (>= 0)
  int64_t heard_ms_ago = -1; // -1: never heard
  bool loss_impossible = false;
  std::string text;
};
PromotionReport ReportPromotion(const PromoteFacts& f, Lsn promoted_at);

}  // namespace pgkeeper

#endif  // PGKEEPER_PROMOTE_H_

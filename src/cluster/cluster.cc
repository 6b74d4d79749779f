#include "cluster/cluster.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "postgresql/datadir.h"
#include "postgresql/follow.h"
#include "base/fs.h"
#include "base/log.h"
#include "postgresql/render.h"
#include "node.h"
#include "postgresql/rewind.h"
#include "snapshot.h"
#include "base/process.h"

namespace pgkeeper {
namespace {

using nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status ParseClusterConfig(const Env& env, const Config& c, ClusterConfig* out) {
  // Each variable, set and not empty, in *v (config.h's Lookup).
  std::string v;
  auto given = [&env, &v](const char* name) {
    bool found = false;
    return Lookup(env, {name}, &v, &found).ok() && found && !v.empty();
  };
  if (!given("ETCD_ENDPOINTS")) {
    for (const char* name : {"PGKEEPER_CLUSTER", "PGKEEPER_ADVERTISE_ADDRESS", "PGKEEPER_LEASE_TTL",
                             "PGKEEPER_FAILOVER_MAX_LAG"}) {
      if (given(name)) {
        return Status::Config(std::string(name) +
                              " is set but ETCD_ENDPOINTS is not; it only applies in cluster "
                              "mode (set ETCD_ENDPOINTS, or unset " +
                              name + ")");
      }
    }
    return Status::Ok();
  }
  PGK_RETURN_IF_ERROR(ParseEtcdEndpoints(v, &out->endpoints));
  if (c.is_replicant()) {
    return Status::Config("REPLICATE_FROM is set beside ETCD_ENDPOINTS; in cluster mode etcd "
                          "chooses the master, so unset REPLICATE_FROM");
  }
  if (c.promote_master) {
    return Status::Config("PROMOTE_MASTER is set beside ETCD_ENDPOINTS; in cluster mode a node "
                          "is promoted when it wins the leader key, so unset PROMOTE_MASTER");
  }
  if (given("PGKEEPER_CLUSTER")) {
    if (v.size() > 63 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789_-") != std::string::npos) {
      return Status::Config("PGKEEPER_CLUSTER: '" + v + "' is not a cluster name; expected up "
                            "to 63 letters, digits, '_' or '-'");
    }
    out->name = v;
  }
  if (given("PGKEEPER_ADVERTISE_ADDRESS")) {
    Upstream u;
    if (!ParseHostPort(v, c.port, &u).ok()) {
      return Status::Config("PGKEEPER_ADVERTISE_ADDRESS: '" + v + "' is not host[:port]; "
                            "expected the name or address other nodes reach this node by");
    }
    out->address = u.Name();
  }
  if (given("PGKEEPER_LEASE_TTL")) {
    int64_t ttl = 0;
    if (!ParseWholeNumber(v, 2, 60, &ttl)) {
      return Status::Config("PGKEEPER_LEASE_TTL: '" + v + "' is not a whole number of seconds "
                            "from 2 to 60");
    }
    out->lease_ttl_seconds = static_cast<int>(ttl);
  }
  if (given("PGKEEPER_FAILOVER_MAX_LAG") && !ParseSize(v, &out->max_lag_bytes)) {
    return Status::Config("PGKEEPER_FAILOVER_MAX_LAG: '" + v +
                          "' is not a size; expected bytes, or a number with kB, MB, GB or TB "
                          "(e.g. 16MB)");
  }
  return Status::Ok();
}

std::string DescribeCluster(const ElectionFacts& f, const ClusterListing& l, const ElectionDecision& d) {
  if (!f.etcd_ok) return "etcd does not answer; " + std::string(ElectionActionName(d.action)) + ": " + d.why;
  int64_t leader_lsn = -1;
  for (const auto& m : f.members) {
    if (m.name == f.leader) leader_lsn = m.lsn;
  }
  std::string out = "leader " + (f.leader.empty() ? std::string("none") : f.leader) + "; members:";
  for (const auto& m : f.members) {
    auto it = l.addresses.find(m.name);
    auto tl = l.timelines.find(m.name);
    out += " " + m.name + (it == l.addresses.end() || it->second.empty() ? "" : " at " + it->second) +
           " (WAL " + FormatLsn(static_cast<Lsn>(m.lsn));
    if (tl != l.timelines.end() && tl->second > 0) out += ", timeline " + std::to_string(tl->second);
    if (leader_lsn >= 0 && m.name != f.leader) {
      out += ", lag " + FormatBytes(std::max<int64_t>(0, leader_lsn - m.lsn));
    }
    out += std::string(m.synchronous ? ", synchronous" : "") + "),";
  }
  out.pop_back();
  if (!l.last_failover.empty()) out += "; last failover: " + l.last_failover;
  return out + "; this node: " + ElectionActionName(d.action) + ": " + d.why;
}

ClusterAgent::ClusterAgent(const ClusterConfig& cc, std::string self, std::string address)
    : cc_(cc),
      self_(std::move(self)),
      address_(std::move(address)),
      etcd_(cc.endpoints, 1000 * cc.lease_ttl_seconds / 3) {}

ClusterAgent::~ClusterAgent() { Stop(); }

std::string ClusterAgent::Key(const std::string& leaf) const {
  return "/pgkeeper/" + cc_.name + "/" + leaf;
}

Status ClusterAgent::Renew(int64_t now_ms) {
  int ttl = 0;
  if (lease_ != 0) {
    PGK_RETURN_IF_ERROR(etcd_.KeepAlive(lease_, &ttl));
    if (ttl > 0) {
      renew_sent_ms_ = now_ms;
      return Status::Ok();
    }
    LogWarn("cluster: this node's lease lapsed; asking etcd for a new one");
  }
  PGK_RETURN_IF_ERROR(etcd_.Grant(cc_.lease_ttl_seconds, &lease_, &ttl));
  // A new lease holds no key yet: what the old one held (the leader key)
  // is gone, so this counts as no renewal for fencing.
  renew_sent_ms_ = -1;
  return Status::Ok();
}

Status ClusterAgent::Publish(const LocalFacts& f) {
  json m = {{"address", address_}, {"lsn", f.lsn},          {"writable", f.writable},
            {"sync", f.sync},         {"timeline", f.timeline}, {"upstream", f.upstream},
            {"streaming_from", f.streaming_from}};
  // Each key is put only when its value changed (for the member record: or
  // the lease did), since etcd keeps every revision until it compacts: an
  // idle cluster writes nothing.
  // Under the lease: a member that stops renewing drops out by itself.
  const std::string member = m.dump() + "@" + std::to_string(lease_);
  if (member != published_member_) {
    PGK_RETURN_IF_ERROR(etcd_.Put(Key("members/" + self_), m.dump(), lease_));
    published_member_ = member;
  }
  if (!f.writable) {  // another node may write these meanwhile
    published_optime_ = published_sync_ = published_failover_ = "";
    return Status::Ok();
  }
  // The leader's position and its synchronous standbys outlive its lease:
  // the candidates need them once it is gone (lag; in strict synchronous
  // mode, who may take over).
  {
    const std::string optime = std::to_string(f.lsn);
    if (optime != published_optime_) {
      PGK_RETURN_IF_ERROR(etcd_.Put(Key("optime"), optime));
      published_optime_ = optime;
    }
    const std::string sync = json(f.sync).dump();
    if (sync != published_sync_) {
      PGK_RETURN_IF_ERROR(etcd_.Put(Key("sync"), sync));
      published_sync_ = sync;
    }
    // The failover this run made, for every node's status; with its
    // promotion report once there is one.
    if (!taken_why_.empty()) {
      const std::string record = "at " + UtcTime(taken_at_ms_) + ", " + self_ + " took over" +
                                 (taken_from_.empty() ? "" : " from " + taken_from_) + " (" +
                                 taken_why_ + "); " +
                                 (f.promotion.empty() ? "promotion report to follow"
                                                      : "promotion report: " + f.promotion);
      if (record != published_failover_) {
        PGK_RETURN_IF_ERROR(etcd_.Put(Key("failover"), record));
        published_failover_ = record;
      }
    }
  }
  return Status::Ok();
}

namespace {

// What etcd holds under the cluster's prefix (kvs, keys with prefix_len
// characters of prefix): the election's facts, the listing for status, and
// the lease the leader key hangs on.
void ParseClusterKeys(const std::vector<EtcdKv>& kvs, size_t prefix_len, ElectionFacts* f,
                      ClusterListing* listing, int64_t* leader_lease) {
  std::vector<std::string> leader_sync, last_sync;
  *leader_lease = 0;
  for (const auto& kv : kvs) {
    const std::string leaf = kv.key.substr(prefix_len);
    if (leaf == "leader") {
      f->leader = kv.value;
      *leader_lease = kv.lease;
    }
    if (leaf == "sync") {
      json j = json::parse(kv.value, nullptr, false);
      if (j.is_array()) {
        for (const auto& s : j) {
          if (s.is_string()) last_sync.push_back(s.get<std::string>());
        }
      }
    }
    if (leaf == "initialized") f->initialized = true;
    if (leaf == "failover") listing->last_failover = kv.value;
    if (leaf == "optime") f->last_leader_lsn = std::atoll(kv.value.c_str());
    if (leaf == "switchover") {
      json j = json::parse(kv.value, nullptr, false);
      if (j.is_object()) {
        f->switchover_from = j.value("from", "");
        f->switchover_to = j.value("to", "");
      }
    }
    if (leaf.rfind("members/", 0) == 0) {
      json m = json::parse(kv.value, nullptr, false);
      if (!m.is_object()) continue;
      MemberFacts mf;
      mf.name = leaf.substr(8);
      mf.lsn = m.value("lsn", int64_t{0});
      mf.writable = m.value("writable", false);
      mf.address = m.value("address", "");
      mf.upstream = m.value("upstream", "");
      mf.streaming_from = m.value("streaming_from", "");
      f->members.push_back(mf);
      listing->addresses[mf.name] = mf.address;
      listing->timelines[mf.name] = m.value("timeline", 0);
      listing->writable[mf.name] = mf.writable;
      if (mf.writable && m.contains("sync") && m["sync"].is_array()) {
        for (const auto& s : m["sync"]) {
          if (s.is_string()) leader_sync.push_back(s.get<std::string>());
        }
      }
    }
  }
  // A live master's own list, else the last one a master published (the
  // master is gone: that is when it matters).
  if (leader_sync.empty()) leader_sync = last_sync;
  // The list holds the standbys' application names, which are node names
  // with anything but letters and digits as '_' (pg-2 streams as pg_2).
  for (auto& m : f->members) {
    for (const auto& s : leader_sync) {
      m.synchronous = m.synchronous || s == m.name || s == ApplicationName(m.name);
    }
  }
}

}  // namespace

Status ClusterAgent::Read(ElectionFacts* f) {
  std::vector<EtcdKv> kvs;
  PGK_RETURN_IF_ERROR(etcd_.GetPrefix(Key(""), &kvs));
  ParseClusterKeys(kvs, Key("").size(), f, &listing_, &leader_lease_);
  return Status::Ok();
}

Status ClusterAgent::AdoptKey() {
  if (leader_lease_ == 0 || lease_ == 0 || leader_lease_ == lease_) return Status::Ok();
  // The key names this node but hangs on a lease this run does not renew:
  // an earlier run of this node took it (its lease outlived it, e.g. while
  // etcd was down). Unrenewed, the key would lapse under a master that
  // takes writes; re-take it under this run's lease, only if it still
  // names this node.
  bool replaced = false;
  PGK_RETURN_IF_ERROR(etcd_.ReplaceIf(Key("leader"), self_, self_, lease_, &replaced));
  if (replaced) {
    LogInfo("cluster: the leader key names this node but was held under an earlier run's "
            "lease; now held under this run's");
    leader_lease_ = lease_;
  }
  return Status::Ok();
}

Status ClusterAgent::TakeKey(bool* taken) {
  EtcdKv holder;
  PGK_RETURN_IF_ERROR(etcd_.CreateIfAbsent(Key("leader"), self_, lease_, taken, &holder));
  if (!*taken) LogInfo("cluster: " + holder.value + " took the leader key first");
  return Status::Ok();
}

Status ClusterAgent::MarkInitialized() { return etcd_.Put(Key("initialized"), self_); }

// One transaction (one etcd write to wait for): only while the key still
// names this node, the final position goes in and the key goes out.
Status ClusterAgent::HandOver(int64_t lsn) {
  bool deleted = false;
  PGK_RETURN_IF_ERROR(
      etcd_.DeleteIf(Key("leader"), self_, &deleted, {{Key("optime"), std::to_string(lsn)}}));
  if (!deleted) return Status::State("the leader key no longer named this node");
  published_optime_ = std::to_string(lsn);
  return Status::Ok();
}

void ClusterAgent::HandOverAt(int64_t lsn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (hand_over_asked_) return;
    hand_over_asked_ = true;
    hand_over_lsn_ = lsn;
  }
  cv_.notify_all();
}

bool ClusterAgent::hand_over_asked() {
  std::lock_guard<std::mutex> lock(mu_);
  return hand_over_asked_;
}

bool ClusterAgent::AwaitHandOver(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return handed_over_; });
}

bool BetweenLeaders(const ElectionFacts& f, const LocalFacts& local, const ClusterListing& l,
                    const ElectionDecision& d, int64_t since_leader_changed_ms) {
  if (!f.etcd_ok) return false;
  if (f.leader.empty() || !f.switchover_from.empty()) return true;
  if (since_leader_changed_ms > kSettleMs) return false;
  if (f.leader == f.self) return !local.writable;
  // A replicant of the leader (not of a cascading upstream): until the
  // leader takes writes and this node follows it.
  if (d.action != ElectionAction::kFollow || d.target != f.leader) return false;
  auto writable = l.writable.find(f.leader);
  auto address = l.addresses.find(f.leader);
  if (writable == l.writable.end() || !writable->second) return true;
  return address == l.addresses.end() || address->second != local.upstream;
}

bool AwaitsHandOver(const ElectionFacts& f) {
  if (!f.etcd_ok || f.switchover_to.empty() || f.switchover_to != f.self) return false;
  if (f.leader.empty()) return true;
  if (f.leader != f.switchover_from) return false;
  for (const auto& m : f.members) {
    if (m.name == f.leader) return !m.writable;
  }
  return true;  // its record lapsed with its lease
}

void ClusterAgent::Release() {
  if (lease_ == 0) return;
  Status st = etcd_.Revoke(lease_);
  if (!st.ok()) LogWarn("cluster: could not give up the lease: " + st.message());
  lease_ = 0;
}

Status StartCluster(Node* n, std::unique_ptr<ClusterAgent>* agent, bool* bootstrap) {
  Config& c = n->config;
  const std::string address = c.cluster.address.empty()
                                  ? n->id.hostname + ":" + std::to_string(c.port)
                                  : c.cluster.address;
  *agent = std::make_unique<ClusterAgent>(c.cluster, n->id.node_name, address);
  (*agent)->set_synchronous_mode(c.sync_available ? 0 : c.sync_replicants);
  DataDirFacts facts;
  PGK_RETURN_IF_ERROR(InspectDataDir(c.pgdata, &facts));
  const DataDirState state = Classify(facts);
  const bool has_data = state != DataDirState::kEmpty;
  int64_t lsn = 0;
  if (has_data && state != DataDirState::kRewindInterrupted) {
    ControlData cd;
    if (ReadControlData(*n, &cd).ok()) lsn = static_cast<int64_t>(cd.checkpoint);
  }
  LogInfo("cluster mode: etcd " + c.cluster.endpoints.front() +
          (c.cluster.endpoints.size() > 1 ? " (and " + std::to_string(c.cluster.endpoints.size() - 1) + " more)" : "") +
          ", cluster " + c.cluster.name + ", this node " + n->id.node_name + " at " + address);
  PGK_RETURN_IF_ERROR(
      (*agent)->DecideStart(has_data, state == DataDirState::kStandby, lsn, &c, bootstrap));
  (*agent)->Start();
  return Status::Ok();
}

ElectionFacts ClusterAgent::Gather(const LocalFacts& local, bool has_data, Status* st) {
  ElectionFacts f;
  f.self = self_;
  f.ttl_ms = 1000 * cc_.lease_ttl_seconds;
  f.fence_margin_ms = f.ttl_ms / 3;
  f.max_lag_bytes = cc_.max_lag_bytes;
  f.has_data = has_data;
  f.writable = local.writable;
  f.synchronous_mode = sync_required_ > 0;
  f.sync_required = sync_required_;
  const int64_t now = NowMs();
  *st = Renew(now);
  if (st->ok()) *st = Publish(local);
  if (st->ok()) {
    listing_ = ClusterListing();
    *st = Read(&f);
  }
  if (st->ok() && f.leader == self_) *st = AdoptKey();
  // How long this request has been seen (a new one, or one to another node,
  // starts again).
  const std::string request = f.switchover_from + ">" + f.switchover_to;
  if (request != switchover_seen_) {
    switchover_seen_ = request;
    switchover_seen_ms_ = now;
  }
  f.switchover_age_ms = now - switchover_seen_ms_;
  f.etcd_ok = st->ok();
  if (!f.etcd_ok) {
    f.leader.clear();
    f.members.clear();
  }
  f.now_ms = NowMs();
  f.renew_sent_ms = renew_sent_ms_;
  return f;
}

void ClusterAgent::Say(const ElectionDecision& d) {
  const std::string line = std::string("cluster: ") + ElectionActionName(d.action) + ": " + d.why;
  if (line == last_why_) return;
  last_why_ = line;
  d.action == ElectionAction::kFence ? LogWarn(line) : LogInfo(line);
}

Status ClusterAgent::DecideStart(bool has_data, bool standby_data, int64_t lsn, Config* c,
                                 bool* bootstrap) {
  *bootstrap = false;
  LocalFacts& local = starting_;
  local.lsn = lsn;
  for (int delay_ms = 250;; delay_ms = std::min(delay_ms * 2, 2000)) {
    Status st;
    ElectionFacts f = Gather(local, has_data, &st);
    if (!st.ok()) LogWarn("cluster: etcd: " + st.message() + "; retrying");
    ElectionDecision d = DecideElection(f);
    Say(d);
    bool taken = false;
    switch (d.action) {
      case ElectionAction::kBootstrap:
        PGK_RETURN_IF_ERROR(TakeKey(&taken));
        if (taken) {
          *bootstrap = true;
          return Status::Ok();
        }
        break;
      case ElectionAction::kTakeOver:
        PGK_RETURN_IF_ERROR(TakeKey(&taken));
        [[fallthrough]];
      case ElectionAction::kPromote:
        if (d.action == ElectionAction::kPromote || taken) {
          c->promote_master = standby_data;  // a master's or promoted data starts as it is
          c->promote_force = true;           // the election already compared positions
          return Status::Ok();
        }
        break;
      case ElectionAction::kFollow: {
        Upstream u;
        if (ParseHostPort(listing_.addresses[d.target], c->port, &u).ok()) {
          c->replicate_from = u.host;
          c->replicate_port = u.port;
          c->allow_rejoin = true;           // an old master comes back as a replicant
          c->destroy_on_restart = false;    // and a replicant keeps its data
          return Status::Ok();
        }
        LogInfo("cluster: " + d.target + " has not published its address yet; waiting");
        break;
      }
      default: break;
    }
    PGK_RETURN_IF_ERROR(SleepUnlessStopped(delay_ms));
  }
}

void ClusterAgent::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ClusterAgent::Activate(ClusterHooks hooks) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_ = std::move(hooks);
  active_ = true;
}

void ClusterAgent::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ClusterAgent::Loop() {
  // Renewal needs a third of the TTL; reading every 500 ms lets a replicant
  // see a lapsed leader key sooner (3 nodes: a few requests a second).
  const auto interval = std::chrono::milliseconds(std::min(1000 * cc_.lease_ttl_seconds / 3, 500));
  // While no node holds the key (a failover under way) or a switchover is
  // asked, every 100 ms: the next leader is found sooner, and writes resume
  // sooner.
  const auto between_leaders = std::chrono::milliseconds(100);
  auto wait = interval;
  for (;;) {
    bool active = false;
    std::optional<int64_t> hand_over;  // asked and not tried yet
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto woken = [this] { return stop_ || (hand_over_asked_ && !handed_over_); };
      if (cv_.wait_for(lock, wait, woken) && stop_) return;
      active = active_;
      if (hand_over_asked_ && !handed_over_) hand_over = hand_over_lsn_;
    }
    if (hand_over) {
      // A switchover's old leader: the key goes as soon as postgres wrote
      // its shutdown checkpoint, not once it exited: the rest of postgres'
      // exit is no longer part of the pause. The target takes the key only
      // once it has received everything up to that checkpoint.
      const int64_t asked = NowMs();
      Status st = *hand_over >= 0 ? HandOver(*hand_over)
                                  : Status::State("where postgres stopped is not known");
      st.ok() ? LogInfo("cluster: switchover: postgres wrote its shutdown checkpoint at " +
                        FormatLsn(static_cast<Lsn>(*hand_over)) +
                        ": published as the final position, and the leader key given up (etcd "
                        "took " + std::to_string(NowMs() - asked) + " ms)")
              : LogWarn("cluster: switchover: " + st.message() +
                        "; the leader key goes when this node exits");
      {
        std::lock_guard<std::mutex> lock(mu_);
        handed_over_ = true;
      }
      cv_.notify_all();
      continue;
    }
    // Stopping: keep the lease until the exit gives it up, decide nothing.
    if (StopRequested() != 0) active = false;
    if (!active) {  // starting: keep the lease (and the key, if held)
      Status st = Renew(NowMs());
      if (st.ok()) st = Publish(starting_);
      if (!st.ok()) LogWarn("cluster: etcd: " + st.message());
      continue;
    }
    // Between leaders, what this node shows is looked at now: a position
    // a second old would hold up the take-over.
    LocalFacts local = hooks_.facts(wait == between_leaders);
    Status st;
    ElectionFacts f = Gather(local, true, &st);
    if (!st.ok()) LogWarn("cluster: etcd: " + st.message());
    if (!f.leader.empty() && f.leader != self_) last_leader_ = f.leader;
    if (f.etcd_ok && f.leader != leader_seen_) {
      leader_seen_ = f.leader;
      leader_changed_ms_ = NowMs();
    }
    ElectionDecision d = DecideElection(f);
    wait = AwaitsHandOver(f) ? std::chrono::milliseconds(kHandOverPollMs)
           : BetweenLeaders(f, local, listing_, d, NowMs() - leader_changed_ms_) ? between_leaders
                                                                                 : interval;
    // Holding the key while the snapshot does not show this node writable
    // yet (it just started as master, or is promoting): nothing to say.
    const bool settling = d.action == ElectionAction::kPromote && !local.standby;
    if (!settling) Say(d);
    if (hooks_.report) hooks_.report(DescribeCluster(f, listing_, d), f.leader == self_, takeovers_);
    const int64_t now = NowMs();
    // A promotion or a follow takes a moment to show: ask again only later.
    const bool may_ask = now - last_request_ms_ > 5000;
    bool taken = false;
    switch (d.action) {
      case ElectionAction::kFence:
      case ElectionAction::kStepDown: {
        // From now on only the lease is kept (and with it the key, until
        // the exit or the hand-over gives it up): nothing else is decided.
        std::lock_guard<std::mutex> lock(mu_);
        active_ = false;
      }
        hooks_.stop(
            d.action == ElectionAction::kFence ? StopReason::kFenced : StopReason::kSteppedDown,
            d.why);
        break;
      case ElectionAction::kTakeOver:
        if (!TakeKey(&taken).ok() || !taken) break;
        ++takeovers_;
        taken_from_ = last_leader_;
        taken_why_ = d.why;
        taken_at_ms_ = WallClockMs();
        LogWarn("cluster: failover: this node took the leader key (" + d.why + "); promoting");
        [[fallthrough]];
      case ElectionAction::kPromote:
        if (may_ask && local.standby) {
          last_request_ms_ = now;
          hooks_.promote(d.why);
          // Promoted (or not): the next loop at once, so that the record
          // says so without waiting.
          wait = std::chrono::milliseconds(0);
        }
        break;
      case ElectionAction::kFollow:
        // Only once the leader says it takes writes: asked while it is
        // still promoting, the follow would fail and be asked again only
        // after the pause above.
        // (A switchover's target is followed before it promotes: it relays.)
        if (may_ask && (listing_.writable[d.target] || d.target != f.leader) &&
            !listing_.addresses[d.target].empty() &&
            listing_.addresses[d.target] != local.upstream) {
          last_request_ms_ = now;
          hooks_.follow(listing_.addresses[d.target]);
        }
        break;
      default: break;
    }
  }
}

Status Switchover(const ClusterConfig& cc, const std::string& asked_to, std::string* said) {
  if (!cc.enabled()) {
    return Status::Usage("this node is not in cluster mode (ETCD_ENDPOINTS is not set); without "
                         "etcd, stop the master and `pgkeeper promote` a replicant");
  }
  EtcdClient etcd(cc.endpoints, 2000);
  const std::string prefix = "/pgkeeper/" + cc.name + "/";
  auto leader = [&](std::string* out) {
    std::vector<EtcdKv> kvs;
    Status s = etcd.Get(prefix + "leader", &kvs);
    *out = kvs.empty() ? "" : kvs[0].value;
    return s;
  };
  std::vector<EtcdKv> kvs;
  PGK_RETURN_IF_ERROR(etcd.GetPrefix(prefix, &kvs));
  ElectionFacts f;
  ClusterListing listing;
  int64_t leader_lease = 0;
  ParseClusterKeys(kvs, prefix.size(), &f, &listing, &leader_lease);
  const std::string from = f.leader;
  std::string to = asked_to;
  if (from.empty()) return Status::State("no node leads now; nothing to switch over");
  if (from == to) return Status::State(to + " leads already");
  if (!to.empty() && listing.addresses.count(to) == 0) {
    return Status::State(to + " is not a live member of cluster " + cc.name);
  }
  // The target is named in the request either way: the other replicants
  // start following it at once (election.h). Unnamed, it is the member
  // with the most WAL now (ties: the lowest name).
  std::string chosen;
  if (to.empty()) {
    f.switchover_from = from;
    f.last_leader_lsn = 0;
    to = BestCandidate(f);
    if (to.empty()) return Status::State("no other live member to hand over to");
    chosen = "; " + to + " was chosen: the most WAL of the other members when asked";
  }
  int64_t lease = 0;
  int ttl = 0;
  // The request lives 30 s: one that could not be carried out goes by itself.
  PGK_RETURN_IF_ERROR(etcd.Grant(30, &lease, &ttl));
  PGK_RETURN_IF_ERROR(
      etcd.Put(prefix + "switchover", nlohmann::json{{"from", from}, {"to", to}}.dump(), lease));
  const int64_t start = NowMs();
  std::string now;
  while (NowMs() - start < 30000) {
    if (leader(&now).ok() && !now.empty() && now != from) {
      (void)etcd.Revoke(lease);  // done: the request goes
      *said = "switched over from " + from + " to " + now + " in " +
              std::to_string(NowMs() - start) + " ms (from the request until " + now +
              " held the leader key)" + chosen;
      return Status::Ok();
    }
    ::usleep(50 * 1000);
  }
  (void)etcd.Revoke(lease);
  return Status::State(from + " still leads (or nobody does) after 30 s; the request was "
                       "withdrawn. See the nodes' logs (cluster: ...)");
}

int RunSwitchover(const Env& env, const std::vector<std::string>& args) {
  // Only the cluster's settings: the command needs no password.
  Config c;
  Status st = ParseClusterConfig(env, c, &c.cluster);
  std::string to;
  for (size_t i = 0; st.ok() && i < args.size(); ++i) {
    if (args[i] == "--to" && i + 1 < args.size()) {
      to = args[++i];
    } else {
      st = Status::Usage("unknown argument '" + args[i] + "'; expected [--to NODE]");
    }
  }
  std::string said;
  if (st.ok()) st = Switchover(c.cluster, to, &said);
  if (!st.ok()) {
    std::cerr << "pgkeeper switchover: " << st.message() << std::endl;
    return st.exit_code();
  }
  std::cout << "ok: " << said << std::endl;
  return 0;
}

}  // namespace pgkeeper

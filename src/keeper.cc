#include "keeper.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "api/api.h"
#include "api/api_auth.h"
#include "commands.h"
#include "cluster/cluster.h"
#include "postgresql/hba_refusal.h"
#include "postgresql/bootstrap.h"
#include "postgresql/clone.h"
#include "postgresql/datadir.h"
#include "postgresql/follow.h"
#include "base/fs.h"
#include "base/log.h"
#include "monitor.h"
#include "node.h"
#include "postgresql/pg.h"
#include "plan.h"
#include "postgresql/postmaster.h"
#include "postgresql/promotion.h"
#include "restart.h"
#include "postgresql/render.h"
#include "postgresql/rejoin.h"
#include "postgresql/rewind.h"
#include "base/process.h"
#include "postgresql/slots.h"
#include "postgresql/swap.h"
#include "postgresql/sync.h"
#include "postgresql/tls.h"
#include "postgresql/tls_rotate.h"
#include "watch.h"

namespace pgkeeper {
namespace {

// ---- privileges and directories -----------------------------------------

// Every path pgkeeper uses is absolute (the configuration insists), so it
// runs from / like any daemon: its children (initdb, postgres, apply-master)
// then never inherit a directory their user may not enter, and the directory
// it was started from is not held busy.
Status LeaveStartDirectory() {
  if (::chdir("/") != 0) return Status::FromErrno("chdir /", errno);
  return Status::Ok();
}

Status PrepareDirectories(const Config& c, Identity* id) {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0]) id->hostname = host;
  if (geteuid() != 0) {
    struct passwd* pw = getpwuid(geteuid());
    id->os_user = pw ? pw->pw_name : std::to_string(geteuid());
    if (pw) id->home = pw->pw_dir;
    PGK_RETURN_IF_ERROR(MakeDirs(c.run_dir, 0755));
    PGK_RETURN_IF_ERROR(MakeDirs(c.pgdata, 0700));
    if (::chmod(c.pgdata.c_str(), 0700) != 0) return Status::FromErrno("chmod " + c.pgdata, errno);
    if (c.allow_rejoin) PGK_RETURN_IF_ERROR(MakeDirs(RejoinDir(c.pgdata), 0700));
    PGK_RETURN_IF_ERROR(PrepareTls(c, NodeName(c, id->hostname), id->hostname, static_cast<uid_t>(-1),
                                   static_cast<gid_t>(-1)));
    PGK_RETURN_IF_ERROR(InstallApiTls(c, static_cast<uid_t>(-1), static_cast<gid_t>(-1)));
    return LeaveStartDirectory();
  }
  // Running as root (the container's default): prepare the directories for
  // the postgres user, then become it for good.
  struct passwd* pw = getpwnam("postgres");
  if (!pw) return Status::System("running as root but there is no 'postgres' OS user to run as");
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  id->os_user = "postgres";
  id->home = pw->pw_dir;
  PGK_RETURN_IF_ERROR(MakeDirs(c.run_dir, 0755));
  if (::chown(c.run_dir.c_str(), uid, gid) != 0) return Status::FromErrno("chown " + c.run_dir, errno);
  PGK_RETURN_IF_ERROR(MakeDirs(c.pgdata, 0700));
  struct stat st;
  if (::stat(c.pgdata.c_str(), &st) != 0) return Status::FromErrno("stat " + c.pgdata, errno);
  if (st.st_uid != uid) {
    LogInfo("data directory " + c.pgdata + " is not owned by postgres; changing its owner");
    PGK_RETURN_IF_ERROR(ChownTree(c.pgdata, uid, gid));
  }
  if (::chmod(c.pgdata.c_str(), 0700) != 0) return Status::FromErrno("chmod " + c.pgdata, errno);
  if (c.allow_rejoin) {
    PGK_RETURN_IF_ERROR(MakeDirs(RejoinDir(c.pgdata), 0700));
    PGK_RETURN_IF_ERROR(ChownTree(RejoinDir(c.pgdata), uid, gid));
  }
  // As root: a key given as a Docker secret may be readable by root only.
  PGK_RETURN_IF_ERROR(PrepareTls(c, NodeName(c, id->hostname), id->hostname, uid, gid));
  PGK_RETURN_IF_ERROR(InstallApiTls(c, uid, gid));
  PGK_RETURN_IF_ERROR(BecomeUser("postgres", uid, gid));
  return LeaveStartDirectory();
}

std::vector<std::string> AttachedNetworks() {
  std::vector<InterfaceAddress> addrs;
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  for (struct ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || !i->ifa_netmask) continue;
    InterfaceAddress a;
    a.family = i->ifa_addr->sa_family;
    const uint8_t* addr = nullptr;
    const uint8_t* mask = nullptr;
    size_t len = 0;
    if (a.family == AF_INET) {
      addr = reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr);
      mask = reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr);
      len = 4;
    } else if (a.family == AF_INET6) {
      addr = reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr);
      mask = reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in6*>(i->ifa_netmask)->sin6_addr);
      len = 16;
    } else {
      continue;
    }
    a.address.assign(addr, addr + len);
    for (size_t b = 0; b < len; ++b) a.prefix += __builtin_popcount(mask[b]);
    addrs.push_back(a);
  }
  freeifaddrs(list);
  return NetworksOf(addrs);
}

// At start (PROMOTE_MASTER=True); a live `pgkeeper promote` leaves the
// phase to the monitor, which sees the node leave recovery.
Status Promote(const Node& n) {
  n.monitor->SetPhase("promoting", "promoting this replicant to master");
  std::string report;
  PromotionSession session;
  PGK_RETURN_IF_ERROR(PromoteWithReport(n, n.config.promote_force, session, &report));
  KeepPromotionReport(n.config, report);
  return Status::Ok();
}

// ---- supervision ---------------------------------------------------------

// Why Supervise returned.
enum class Event {
  kExited,   // postgres stopped as asked; the exit code is the result
  kCrashed,  // postgres exited without being asked to
  kRecopy,   // a stalled replicant should take a fresh copy now
  kRequest,  // `pgkeeper follow` or `pgkeeper promote` left a request
};

// The periodic checks made while postgres runs (watch.h).
struct Watches {
  SlotKeeper slots;
  StallWatch stall;
  SyncKeeper sync;
  PeerWatch peers;
  DiskWatch disk;
  TlsWatch tls;
  PromotionSession promotion;
};

// Where postgres wrote its shutdown checkpoint, or -1 while the control
// file does not say "shut down" (or cannot be read). Cheap to ask every few
// milliseconds: the file's head is read directly (twice, and the two must
// agree: postgres rewrites the file in place), and pg_controldata (tens of
// ms to start on a loaded machine) runs only for a layout not known here.
int64_t ShutdownCheckpoint(const Node& n) {
  const std::string path = JoinPath(n.config.pgdata, "global/pg_control");
  auto read_head = [&path](ControlHead* h) {
    std::string bytes;
    return ReadWholeFile(path, &bytes).ok() && ParseControlHead(bytes, h);
  };
  ControlHead a, b;
  if (read_head(&a)) {
    // Not shut down yet, or changing under us: look again.
    if (!a.shut_down || !read_head(&b) || !b.shut_down || b.checkpoint != a.checkpoint) return -1;
    return static_cast<int64_t>(a.checkpoint);
  }
  ControlData cd;
  if (!ReadControlData(n, &cd).ok() || cd.state != "shut down") return -1;
  return static_cast<int64_t>(cd.checkpoint);
}

// Supervises postgres until it exits (*code is then pgkeeper's exit code,
// *how the way it ended) or something needs the executor. cluster_stop:
// set (and the wait woken) once cluster mode's agent has stopped postgres;
// for a step-down, the agent is told as soon as the shutdown checkpoint is
// written.
Event Supervise(Node& n, Postmaster& pm, Watches& w, const std::atomic<StopReason>& cluster_stop,
                ClusterAgent* agent, int* code, std::string* how) {
  *code = 0;
  bool stopping = false;
  bool hand_over = false;  // a step-down waits for the shutdown checkpoint
  for (;;) {
    int ws = 0;
    if (pm.Exited(&ws)) {
      *code = ExitCodeOf(ws);
      *how = DescribeWaitStatus(ws);
      n.monitor->ExpectPostgres(false);
      if (!stopping) {
        if (*code == 0) *code = static_cast<int>(ExitCode::kTool);
        return Event::kCrashed;
      }
      LogInfo("postgres stopped (" + *how + ")");
      n.monitor->SetPhase("stopped", "postgres " + *how);
      return Event::kExited;
    }
    if (StopReason r = cluster_stop; r != StopReason::kNone && !stopping) {
      // The agent asked postgres for a fast shutdown already, and set the
      // phase (ClusterHooksFor's stop).
      stopping = true;
      hand_over = r == StopReason::kSteppedDown && agent != nullptr;
    }
    if (hand_over) {
      // pg_controldata runs here, not on the agent's thread: one thread
      // starts and reaps children.
      if (int64_t lsn = ShutdownCheckpoint(n); lsn >= 0) {
        agent->HandOverAt(lsn);
        hand_over = false;
      } else {
        WaitEvents(10, {});
        continue;
      }
    }
    if (int sig = StopSignal(); sig && !stopping) {
      int to_send = sig == SIGQUIT ? SIGQUIT : SIGINT;
      LogInfo(std::string("received ") + strsignal(sig) + "; asking postgres for " +
              (to_send == SIGINT ? "a fast" : "an immediate") + " shutdown");
      ::kill(pm.pid(), to_send);
      stopping = true;
      n.monitor->ExpectPostgres(false);
      n.monitor->SetPhase("stopping", "shutting down");
    }
    if (TakeReloadRequests() > 0 && !stopping) {
      // A changed certificate is checked before postgres sees it.
      w.tls.Tick(n, pm.pid(), true, nullptr);
      ::kill(pm.pid(), SIGHUP);
    }
    if (!stopping && TakeFollowRequests() > 0) return Event::kRequest;
    if (!stopping) w.slots.Tick(n);
    // A check may wait on an upstream that went dark (up to its connect
    // timeout); a follow request that came meanwhile goes first.
    if (!stopping && TakeFollowRequests() > 0) return Event::kRequest;
    if (!stopping && w.stall.Tick(n)) return Event::kRecopy;
    if (!stopping) w.sync.Tick(n, pm.pid());
    if (!stopping) w.peers.Tick(n);
    if (!stopping && TakeFollowRequests() > 0) return Event::kRequest;
    if (!stopping) w.disk.Tick(n, pm.said_disk_full());
    if (!stopping) w.tls.Tick(n, pm.pid(), false, nullptr);
    int soon = stopping ? -1 : w.promotion.Tick(n);
    // A synchronous master names a new replicant's slot, and in
    // SYNCHRONOUS_MODE=available answers a vanished replicant, within a second.
    int wait_ms = n.config.sync_replicants > 0 ? 1000 : 5000;
    WaitEvents(soon >= 0 ? std::min(soon, wait_ms) : wait_ms, {});
  }
}

// Replaces a stalled replicant's data with a fresh copy of its upstream
// while pgkeeper keeps running: stop postgres, copy beside the data and swap
// (as a start with DESTROY_DATABASE_ON_RESTART=True would), start again.
Status Recopy(const Node& n, Postmaster& pm) {
  const Config& c = n.config;
  auto start = std::chrono::steady_clock::now();
  n.monitor->ExpectPostgres(false);
  n.monitor->SetPhase("stopping", "stopping postgres to replace its data with a fresh copy");
  Status st = pm.Stop(SIGINT);
  if (!st.ok()) LogWarn(st.message());
  n.monitor->NoteWalMissing("");
  PGK_RETURN_IF_ERROR(Clone(n));
  n.monitor->SetPhase("starting", "starting the replicant on its fresh copy");
  PGK_RETURN_IF_ERROR(pm.Start(c, c.pgdata, {}, BaseEnv(n)));
  PGK_RETURN_IF_ERROR(pm.WaitReady(kStartTimeoutMs));
  n.monitor->SetPhase("standby", "following " + MasterName(c) + ", not streaming yet");
  n.monitor->ExpectPostgres(true);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  // What the stall cost: a replicant holds no writes of its own, so nothing
  // was lost; it served no queries while its data was replaced.
  LogInfo("replaced the stalled replicant's data with a fresh copy; it served no queries for " +
          std::to_string(ms) + " ms; no data was lost (a replicant holds no writes of its own)");
  return Status::Ok();
}

// Which upstream a replicant follows at start: REPLICATE_FROM, or what
// `pgkeeper follow` chose while REPLICATE_FROM stays the same.
Status ChooseStartUpstream(Node& n) {
  Config& c = n.config;
  n.env_upstream = {c.replicate_from, c.replicate_port};
  const std::string path = JoinPath(c.pgdata, kFollowFile);
  if (!c.is_replicant() || !Exists(path)) return Status::Ok();
  std::string text;
  PGK_RETURN_IF_ERROR(ReadWholeFile(path, &text));
  FollowRecord record;
  std::optional<FollowRecord> found;
  if (ParseFollowRecord(text, &record)) {
    found = record;
  } else {
    LogWarn(path + " is not a follow record; following REPLICATE_FROM");
  }
  UpstreamChoice choice = ChooseUpstream(c, found);
  if (!choice.reason.empty()) LogInfo(choice.reason);
  c.replicate_from = choice.upstream.host;
  c.replicate_port = choice.upstream.port;
  if (choice.keep_record) {
    n.follow = found;
    return Status::Ok();
  }
  return RemoveTree(path);
}

// Repoints a running replicant at the upstream a `pgkeeper follow` request
// names: record the choice, make the slot there, rewrite primary_conninfo
// and have postgres reload it; no restart, no copy. PostgreSQL follows the
// new upstream's timeline by itself (recovery_target_timeline = latest).
// Returns the line for the waiting command: "ok: ..." or "error: ...".
std::string Refollow(Node& n, Postmaster& pm, const std::string& request) {
  Config& c = n.config;
  Upstream target;
  Status st = ParseHostPort(request, 5432, &target);
  if (!st.ok()) return "error: " + st.message();
  const std::string phase = n.monitor->Keeper().phase;
  if (!c.is_replicant() || !IsStandbyPhase(phase)) {
    return "error: this node is not a running replicant, so it follows nobody; to make a former "
           "master follow another node, restart it with REPLICATE_FROM set";
  }
  const Upstream before{c.replicate_from, c.replicate_port};
  if (target == before) return "ok: already following " + target.Name() + "; nothing changed";
  const std::string path = JoinPath(c.pgdata, kFollowFile);
  if (target == n.env_upstream) {
    st = RemoveTree(path);
    n.follow.reset();
  } else {
    n.follow = FollowRecord{target, n.env_upstream, UtcNow("%Y-%m-%d %H:%M:%S UTC")};
    st = WriteFileAtomic(path, RenderFollowRecord(*n.follow), 0600);
  }
  if (!st.ok()) return "error: " + st.message();
  c.replicate_from = target.host;
  c.replicate_port = target.port;
  st = WritePassFile(n);
  if (st.ok()) st = WriteConfigFiles(n, c.pgdata, true);
  if (!st.ok()) return "error: " + st.message();
  std::string slot;
  Status slot_st = EnsureSlotInChild(n, &slot);
  slot_st.ok() ? LogInfo(slot) : LogWarn("replication slot: " + slot);
  ::kill(pm.pid(), SIGHUP);
  n.monitor->NoteWalMissing("");
  n.monitor->SetMaster(MasterName(c));
  n.monitor->SetPhase("standby", "following " + MasterName(c) + ", not streaming yet");
  std::string line = "now following " + target.Name() + " instead of " + before.Name() +
                     ", without a restart or a copy" +
                     (n.follow ? "; kept across restarts until REPLICATE_FROM changes"
                               : " (REPLICATE_FROM names it again)") +
                     "; the slot on " + before.Name() + " stays: drop it there with `pgkeeper "
                     "drop-slot " + SlotName(n.id.node_name) + "` if this replicant will not "
                     "return to it";
  LogInfo(line);
  return "ok: " + line;
}

// A command's request in the run directory (kFollowRequestFile,
// kPromoteRequestFile): read and removed; false when there is none (a
// stray SIGUSR1, or the request was for the other command).
bool TakeRequest(const Node& n, const char* name, std::string* request) {
  const std::string path = JoinPath(n.config.run_dir, name);
  if (!ReadWholeFile(path, request).ok()) return false;
  Status rm = RemoveTree(path);
  if (!rm.ok()) LogWarn(rm.message());
  while (!request->empty() && (request->back() == '\n' || request->back() == ' ')) request->pop_back();
  return true;
}

// Leaves the outcome ("ok: ..." or "error: ...") for the waiting command.
void AnswerRequest(const Node& n, const char* name, const std::string& result) {
  Status st = WriteFileUnsynced(JoinPath(n.config.run_dir, name), result + "\n", 0644);
  if (!st.ok()) LogWarn(st.message());
}

// Carries out what `pgkeeper promote`, `follow` and `reload` asked for.
void AnswerRequests(Node& n, Postmaster& pm, Watches& w) {
  std::string request;
  if (TakeRequest(n, kPromoteRequestFile, &request)) {
    std::string result, report;
    const std::string phase = n.monitor->Keeper().phase;
    // Signalled by cluster mode's agent: it may be writable already.
    if (!IsStandbyPhase(phase) && request != "signalled") {
      result = "error: this node is not a running replicant (" +
               std::string(phase == "running" ? "it is already a master" : "phase " + phase) +
               "); nothing to promote";
    } else {
      Status st = PromoteWithReport(n, request == "force" || request == "signalled", w.promotion,
                                    &report, request == "signalled");
      result = st.ok() ? "ok: " + report : "error: " + st.message();
      if (!st.ok()) LogError("pgkeeper promote: " + st.message());
    }
    AnswerRequest(n, kPromoteResultFile, result);
    if (!report.empty()) {  // promoted
      KeepPromotionReport(n.config, report);
      // The monitor's next poll makes the phase "running"; until it ends the
      // loop would still take this node for a replicant (and keep a
      // promote-facts child ready). Its replicants, if any, are named at once.
      Snapshot now = n.monitor->Fresh(std::chrono::milliseconds(500));
      w.sync.AfterPromotion(n, pm.pid(), now);
    }
  }
  if (TakeRequest(n, kFollowRequestFile, &request)) {
    std::string result = Refollow(n, pm, request);
    if (result.rfind("error: ", 0) == 0) LogError("pgkeeper follow " + request + ": " + result.substr(7));
    AnswerRequest(n, kFollowResultFile, result);
  }
  if (TakeRequest(n, kReloadRequestFile, &request)) {
    std::string result;
    w.tls.Tick(n, pm.pid(), true, &result);
    ::kill(pm.pid(), SIGHUP);
    AnswerRequest(n, kReloadResultFile, result);
  }
}

// Cluster mode's requests to the supervisor (cluster.h): left like those of
// `pgkeeper promote` and `pgkeeper follow`, from the agent's thread, which
// waits for no answer.
void LeaveClusterRequest(const Node& n, const char* name, const std::string& request) {
  Status st = LeaveRequest(n.config, static_cast<int>(::getpid()), name, request);
  if (!st.ok()) LogError("cluster: cannot leave a request: " + st.message());
}

ClusterHooks ClusterHooksFor(Node& n, Postmaster& pm, std::atomic<StopReason>* stopped) {
  ClusterHooks h;
  // The agent's own connection to postgres, kept open while this node is a
  // replicant (it may have to promote) and used on its thread only: the
  // promotion is signalled at once, not after a new connection.
  auto promoter = std::make_shared<PgConn>();
  auto promoter_open = std::make_shared<bool>(false);
  h.facts = [&n, promoter, promoter_open](bool fresh) {
    Snapshot s = fresh ? n.monitor->Fresh(std::chrono::milliseconds(200)) : n.monitor->Latest();
    LocalFacts f;
    f.postgres_up = s.postgres_up;
    f.writable = s.postgres_up && !s.in_recovery;
    Lsn lsn = 0;
    if (ParseLsn(f.writable ? s.current_lsn : s.received_lsn, &lsn)) f.lsn = static_cast<int64_t>(lsn);
    for (const auto& r : s.replicants) {
      if (IsSynchronous(r)) f.sync.push_back(r.name);
    }
    const KeeperState k = n.monitor->Keeper();
    f.standby = f.postgres_up && s.in_recovery && IsStandbyPhase(k.phase);
    if (f.standby && !*promoter_open) {
      *promoter_open =
          promoter->Connect(LocalParams(n.config.run_dir, n.config.port, n.config.superuser, "postgres"))
              .ok();
    }
    f.upstream = k.master;
    f.streaming_from = s.streaming_from;  // "" unless streaming
    f.timeline = s.timeline;
    f.promotion = k.promotion;
    return f;
  };
  // Postgres is stopped from the agent's thread, at once, whatever the
  // supervisor is doing; a fast shutdown lets the walsenders send
  // everything, up to the shutdown checkpoint, before postgres exits.
  h.stop = [&n, &pm, stopped](StopReason reason, const std::string&) {
    StopReason none = StopReason::kNone;
    if (!stopped->compare_exchange_strong(none, reason)) return;
    // First of all: /primary answers 503 from now on, so that HAProxy sends
    // no new connection to an address about to go dark.
    n.monitor->ExpectPostgres(false);
    n.monitor->SetPhase("stopping",
                        reason == StopReason::kFenced ? "fencing" : "switchover: handing over");
    if (reason == StopReason::kSteppedDown) {
      // A switchover (not a fence: that one is in a hurry): a checkpoint
      // while writes still go on leaves little for the shutdown checkpoint,
      // which is part of the pause.
      PgConn conn;
      Status st = conn.Connect(LocalParams(n.config.run_dir, n.config.port, n.config.superuser, "postgres"));
      if (st.ok()) st = conn.Exec("CHECKPOINT");
      if (!st.ok()) LogWarn("cluster: switchover: checkpoint before stopping: " + st.message());
    }
    reason == StopReason::kFenced
        ? LogWarn("cluster: fencing: stopping postgres now (fast shutdown)")
        : LogInfo("cluster: switchover: stopping postgres (fast shutdown) to hand over");
    ::kill(pm.pid(), SIGINT);
    WakeWaiter();  // Supervise stops its checks and waits for the exit
  };
  // Signalled here when the connection is open (the supervisor then only
  // waits for the promotion's end and keeps its records), else asked of the
  // supervisor whole. Once signalled, waits (at most 1 s; the lease needs
  // renewing) until postgres takes writes and says so to the monitor: GET
  // /primary turns 200 then, not when the supervisor or the next poll does.
  h.promote = [&n, promoter, promoter_open](const std::string&) {
    std::string done;
    if (*promoter_open && !promoter->QueryValue("SELECT pg_promote(false)", &done).ok()) {
      *promoter_open = false;
      promoter->Close();
    }
    LeaveClusterRequest(n, kPromoteRequestFile, done == "t" ? "signalled" : "force");
    if (done != "t") return;
    Status st = AwaitPromotion(*promoter, std::chrono::seconds(1));
    if (st.ok()) n.monitor->NoteWritable();
  };
  h.follow = [&n](const std::string& address) {
    LeaveClusterRequest(n, kFollowRequestFile, address);
  };
  h.report = [&n](const std::string& view, bool leader, int takeovers) {
    n.monitor->NoteCluster(view, leader, takeovers);
  };
  return h;
}

// After the agent stopped postgres: a step-down first publishes where it
// stopped (its shutdown checkpoint), which the switchover's target must
// have; either way pgkeeper exits, and its next start (the container's
// restart policy) follows the leader. Returns the exit code.
int ExitStoppedByCluster(const Node& n, ClusterAgent& agent, StopReason reason,
                         const std::string& how) {
  if (reason == StopReason::kSteppedDown) {
    // Supervise asked for the hand-over once the shutdown checkpoint was
    // written, unless postgres exited before it looked.
    if (!agent.hand_over_asked()) agent.HandOverAt(ShutdownCheckpoint(n));
    if (!agent.AwaitHandOver(std::chrono::seconds(10))) {
      LogWarn("cluster: switchover: the hand-over did not finish; the leader key goes now");
    }
    LogInfo("cluster: switchover: postgres stopped; exiting, so that the next start follows the "
            "new master");
    n.monitor->SetPhase("stopped", "switched over: another node leads now");
  } else {
    LogWarn("cluster: postgres stopped after fencing (" + how +
            "); exiting, so that the next start (the container's restart policy) rejoins the "
            "leader");
    n.monitor->SetPhase("stopped", "fenced: another node leads, or etcd could not be reached");
  }
  return static_cast<int>(ExitCode::kState);
}

int Fail(Monitor* monitor, const Status& st, const std::string& context) {
  if (st.code() == ExitCode::kInterrupted) {
    LogInfo(context + ": " + st.message());
    if (monitor) monitor->SetPhase("stopped", st.message());
    return 128 + (StopSignal() ? StopSignal() : SIGTERM);
  }
  LogError(context + ": " + st.message());
  if (monitor) monitor->SetPhase("failed", st.message());
  return st.exit_code();
}

// Says which address pg_hba.conf turned away and the one-line fix: once a
// minute for the same address, user and kind (a replicant retries every
// few seconds), and as the status' "refused" line.
std::function<void(const std::string&)> RefusalReporter(const Node& n, Monitor* monitor) {
  auto last_said = std::make_shared<std::map<std::string, std::chrono::steady_clock::time_point>>();
  std::string allow;
  for (const auto& r : n.config.allow_ip_ranges) allow += (allow.empty() ? "" : ",") + r;
  const std::vector<std::string> ranges = n.ranges;
  const std::string upstream = n.config.is_replicant() ? MasterName(n.config) : "";
  return [last_said, allow, ranges, upstream, monitor](const std::string& line) {
    std::optional<HbaRefusal> r = ParseHbaRefusal(line);
    if (!r) return;
    const std::string key = r->host + " " + r->user + (r->replication ? " r" : "") +
                            (r->without_tls ? " t" : "");
    auto now = std::chrono::steady_clock::now();
    auto it = last_said->find(key);
    if (it != last_said->end() && now - it->second < std::chrono::seconds(60)) return;
    (*last_said)[key] = now;
    // A replicant's walreceiver reports its upstream's refusal in this log too.
    const std::string sentence = r->upstream ? DescribeUpstreamRefusal(*r, upstream)
                                             : DescribeRefusal(*r, allow, ranges);
    LogWarn(sentence);
    monitor->NoteRefused(UtcNow("%Y-%m-%d %H:%M:%S UTC") + ": " + sentence);
  };
}

// Serves the HTTP API: open role checks, status and metrics; POST
// endpoints only with PGKEEPER_API_PASSWORD, carried out like the commands.
Status StartApi(const Config& c, Monitor* monitor, ApiServer* api) {
  ApiServer::Options o;
  o.security = c.api;
  if (c.api.tls) {
    PGK_RETURN_IF_ERROR(ReadWholeFile(ApiCertPath(c), &o.cert_pem));
    PGK_RETURN_IF_ERROR(ReadWholeFile(ApiKeyPath(c), &o.key_pem));
  }
  o.action = [c](const ApiAction& a, const std::function<bool()>& stopping) {
    std::string answer;
    if (a.name == "switchover") {  // through etcd, whichever node is asked
      Status st = Switchover(c.cluster, a.request, &answer);
      LogInfo("HTTP API: POST /switchover " + (st.ok() ? answer : "failed: " + st.message()));
      return ActionReply(a, st.ok() ? st : Status::State(st.message()), answer);
    }
    Status st = AskKeeper(c, static_cast<int>(::getpid()), a.request_file.c_str(),
                          a.result_file.c_str(), a.request, std::chrono::seconds(a.timeout_seconds),
                          &answer, stopping);
    LogInfo("HTTP API: POST /" + a.name + (st.ok() ? " done" : " failed: " + st.message()));
    return ActionReply(a, st, answer);
  };
  PGK_RETURN_IF_ERROR(api->Start(c.api_listen, c.api_port, [monitor] { return monitor->Published(); },
                                 std::move(o)));
  const std::string scheme = c.api.tls ? "https" : "http";
  LogInfo("HTTP API listening on " + scheme + "://" + c.api_listen + ":" + std::to_string(c.api_port) +
          (c.api.password.empty() ? "; POST /promote, /follow, /reload and /switchover are off (no "
                                    "PGKEEPER_API_PASSWORD)"
                                  : "; POST /promote, /follow, /reload and /switchover need user " + c.api.user +
                                        " and PGKEEPER_API_PASSWORD"));
  if (!c.api.password.empty() && !c.api.tls) {
    LogWarn("HTTP API: the API password crosses the network in the clear; set "
            "PGKEEPER_API_TLS=True to serve the API over HTTPS");
  }
  return Status::Ok();
}

}  // namespace

int RunKeeper(const Env& env) {
  Node n;
  Status st = ParseConfig(env, ReadWholeFile, &n.config);
  if (!st.ok()) {
    LogError("configuration error: " + st.message());
    return st.exit_code();
  }
  st = CheckTlsFiles(n.config.tls);
  if (st.ok()) st = CheckApiTlsFiles(n.config.api);
  if (!st.ok()) {
    LogError("configuration error: " + st.message());
    return st.exit_code();
  }
  const Config& c = n.config;
  n.env = env;
  st = OpenSelfExecutable(&n.self);
  if (!st.ok()) return Fail(nullptr, st, "cannot find pgkeeper's own binary");
  st = PrepareDirectories(c, &n.id);
  if (!st.ok()) return Fail(nullptr, st, "cannot prepare directories");
  n.id.node_name = NodeName(c, n.id.hostname);
  n.ranges = c.allow_ip_ranges.empty() ? AttachedNetworks() : c.allow_ip_ranges;
  // Cluster mode: etcd's answer becomes this start's REPLICATE_FROM (or none).
  std::unique_ptr<ClusterAgent> agent;
  bool bootstrap = false;
  if (c.cluster.enabled()) {
    st = StartCluster(&n, &agent, &bootstrap);
    if (!st.ok()) return Fail(nullptr, st, "cluster mode");
  }

  KeeperState initial;
  initial.phase = "starting";
  initial.message = "inspecting the data directory";
  initial.configured_replicant = c.is_replicant();
  initial.sync_required = c.sync_replicants;
  initial.sync_available = c.sync_available;
  if (std::string report; ReadWholeFile(JoinPath(c.pgdata, kPromotionFile), &report).ok()) {
    while (!report.empty() && report.back() == '\n') report.pop_back();
    initial.promotion = report;
  }
  if (c.is_replicant()) initial.master = MasterName(c);
  Monitor monitor(c, initial);
  n.monitor = &monitor;
  ApiServer api;
  if (c.api_port > 0) {
    st = StartApi(c, &monitor, &api);
    if (!st.ok()) return Fail(&monitor, st, "cannot start the HTTP API");
  }

  st = SettleSwap(c.pgdata);
  if (!st.ok()) return Fail(&monitor, st, "cannot settle the data directory");
  st = ChooseStartUpstream(n);
  if (!st.ok()) return Fail(&monitor, st, "cannot read the follow record");
  if (c.is_replicant()) monitor.SetMaster(MasterName(c));
  DataDirFacts facts;
  st = InspectDataDir(c.pgdata, &facts);
  if (!st.ok()) return Fail(&monitor, st, "cannot inspect the data directory");
  DataDirState state = Classify(facts);
  LogInfo("data directory " + c.pgdata + ": " + Describe(state, facts));
  if (state == DataDirState::kPromoted) monitor.SetPromoted();
  Plan plan = Decide(c, state);
  if (plan.action == Action::kRefuse) {
    LogError("refusing to start: " + plan.reason);
    monitor.SetPhase("refused", plan.reason);
    return static_cast<int>(plan.refuse_code);
  }
  LogInfo("decision: " + plan.reason);

  bool standby = false;
  std::string slot_sentence;
  switch (plan.action) {
    case Action::kInitMaster: st = InitMaster(n); break;
    case Action::kClone:
    case Action::kReclone:
      st = WritePassFile(n);
      if (st.ok()) st = Clone(n);
      standby = true;
      break;
    case Action::kRejoin:
      st = WritePassFile(n);
      if (st.ok()) st = Rejoin(n);
      standby = true;
      break;
    case Action::kResumeStandby:
      st = WritePassFile(n);
      if (st.ok()) st = CheckUpstreamTls(n);
      if (st.ok()) {
        // The upstream may be down: postgres retries streaming by itself,
        // and the slot is checked again while it does not stream.
        Status slot = EnsureSlotInChild(n, &slot_sentence);
        slot.ok() ? LogInfo(slot_sentence) : LogWarn("replication slot: " + slot_sentence);
      }
      standby = true;
      break;
    default: break;
  }
  if (!st.ok()) return Fail(&monitor, st, std::string(ActionName(plan.action)) + " failed");

  // Promotion starts the standby without a master to follow, then promotes.
  bool promote = plan.action == Action::kPromote;
  n.sync = InitialSyncList(c.sync_replicants, c.sync_available);
  st = WriteConfigFiles(n, c.pgdata, standby);
  if (!st.ok()) return Fail(&monitor, st, "cannot write configuration");
  monitor.SetPhase("starting", standby ? "starting the replicant" : "starting postgres");
  Postmaster pm;
  pm.set_on_wal_missing([&monitor](const std::string& line) { monitor.NoteWalMissing(line); });
  pm.set_on_hba_refusal(RefusalReporter(n, &monitor));
  st = pm.Start(c, c.pgdata, {}, BaseEnv(n));
  if (st.ok()) st = pm.WaitReady(kStartTimeoutMs);
  if (st.ok() && promote) st = Promote(n);
  // A master just initialised got its roles, databases and extensions on the
  // temporary server; every other master start re-applies the environment's.
  if (st.ok() && !standby && plan.action != Action::kInitMaster) st = ApplyMasterObjectsInChild(n);
  if (!st.ok()) {
    int code = Fail(&monitor, st, "cannot start postgres");
    pm.Stop(SIGINT);
    return code;
  }
  if (standby) {
    monitor.SetPhase("standby", "following " + MasterName(c) + ", not streaming yet");
  } else {
    LogInfo("master ready on port " + std::to_string(c.port));
    monitor.SetPhase("running", "master accepting reads and writes");
    if (bootstrap) {
      Status marked = agent->MarkInitialized();
      marked.ok() ? LogInfo("cluster: initialised; the other nodes may copy this one now")
                  : LogWarn("cluster: cannot mark the cluster initialised: " + marked.message());
    }
  }
  monitor.ExpectPostgres(true);
  Watches watches{SlotKeeper(standby && !promote), StallWatch(standby && !promote), SyncKeeper(),
                  PeerWatch(standby && !promote), DiskWatch(), TlsWatch(), PromotionSession()};
  watches.slots.Seen(slot_sentence);
  CrashLog crashes;
  std::atomic<StopReason> cluster_stop{StopReason::kNone};
  if (agent) agent->Activate(ClusterHooksFor(n, pm, &cluster_stop));
  int code = 0;
  std::string how;
  for (;;) {
    Event event = Supervise(n, pm, watches, cluster_stop, agent.get(), &code, &how);
    // Postgres may also have exited by itself just before the agent stopped it.
    if ((event == Event::kExited || event == Event::kCrashed) &&
        cluster_stop != StopReason::kNone) {
      code = ExitStoppedByCluster(n, *agent, cluster_stop, how);
      break;
    }
    if (event == Event::kExited) break;
    if (event == Event::kCrashed) {
      if (RestartAfterCrash(n, pm, crashes, how, &code)) continue;
      break;
    }
    if (event == Event::kRequest) {
      AnswerRequests(n, pm, watches);
      continue;
    }
    st = Recopy(n, pm);
    if (!st.ok()) {
      code = Fail(&monitor, st, "fresh copy failed");
      pm.Stop(SIGINT);
      break;
    }
  }
  if (agent) {
    agent->Stop();
    agent->Release();  // postgres is down: the key may go to another node now
  }
  api.Stop();
  return code;
}

}  // namespace pgkeeper

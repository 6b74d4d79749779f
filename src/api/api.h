// The HTTP API: Patroni-style role checks, status and metrics.
//
// Route() is pure: it answers from a snapshot, so a slow or hung PostgreSQL
// never blocks a request. ApiServer only binds libmicrohttpd to Route().
#ifndef PGKEEPER_API_H_
#define PGKEEPER_API_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/config.h"
#include "snapshot.h"
#include "base/status.h"

struct MHD_Daemon;

namespace pgkeeper {

struct ApiAction;  // api_auth.h

// A lag threshold from ?lag=: bytes ("16MB", "1024") or seconds ("5s", "500ms").
struct LagLimit {
  bool is_time = false;
  double value = 0;  // bytes or seconds
};
// nullopt when the text is not a size or a duration.
std::optional<LagLimit> ParseLag(const std::string& text);

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Facts older than this are not trusted for role checks.
inline constexpr int64_t kStaleAfterMs = 10000;

// Answers a request. method is GET, HEAD, OPTIONS, ...; HEAD and OPTIONS get
// GET's status and headers with no body. JSON answers send published.json
// as it is; the verdicts are still judged against now_ms per request.
Reply Route(const PublishedSnapshot& published, const std::string& method, const std::string& path,
            const std::map<std::string, std::string>& query, int64_t now_ms);
// The same answer, rendering the snapshot's JSON first.
Reply Route(const Snapshot& snapshot, const std::string& method, const std::string& path,
            const std::map<std::string, std::string>& query, int64_t now_ms);

class ApiServer {
 public:
  // Returns the current snapshot, never null (Monitor::Published()).
  using SnapshotFn = std::function<std::shared_ptr<const PublishedSnapshot>()>;
  // Carries out an authorised state-changing request and returns the reply.
  // It runs on a thread of its own and may take a while; it should give up
  // when stopping() turns true (the server is being stopped).
  using ActionFn = std::function<Reply(const ApiAction&, const std::function<bool()>& stopping)>;
  struct Options {
    ApiSecurity security;  // credential for POST; tls says whether to serve HTTPS
    std::string cert_pem, key_pem;  // with security.tls: the pair, read before starting
    ActionFn action;
  };
  ApiServer();
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;
  // Binds host:port (host "*" or "" means every IPv4 address) and serves on
  // one thread of its own; snapshot is called there, once per request. An
  // action's connection is set aside while the action runs on its own
  // thread, so role checks are never held up by it.
  Status Start(const std::string& host, int port, SnapshotFn snapshot, Options options = {});
  // Tells running actions to give up, waits for them and (up to 2 s) for
  // their replies to go out, then closes the socket and joins the thread;
  // harmless when not started.
  void Stop();

  // What the server's threads share (public for them only).
  struct Handler {
    SnapshotFn snapshot;
    Options options;
    std::mutex mu;
    std::condition_variable idle;
    int actions_running = 0;  // guarded by mu
    int replies_pending = 0;  // guarded by mu: actions whose reply has not gone out
    std::atomic<bool> stopping{false};
  };

 private:
  std::unique_ptr<Handler> handler_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace pgkeeper

#endif  // PGKEEPER_API_H_

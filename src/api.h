// The HTTP API: Patroni-style role checks, status and metrics.
//
// Route() is pure: it answers from a snapshot, so a slow or hung PostgreSQL
// never blocks a request. ApiServer only binds libmicrohttpd to Route().
#ifndef PGKEEPER_API_H_
#define PGKEEPER_API_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config.h"
#include "snapshot.h"
#include "status.h"

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
  // Carries out an authorised state-changing request (it may take a while:
  // each connection has a thread of its own) and returns the reply.
  using ActionFn = std::function<Reply(const ApiAction&)>;
  struct Options {
    ApiSecurity security;  // credential for POST; tls says whether to serve HTTPS
    std::string cert_pem, key_pem;  // with security.tls: the pair, read before starting
    ActionFn action;
  };
  ApiServer();
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;
  // Binds host:port (host "*" or "" means every IPv4 address) and serves,
  // one thread per connection; snapshot is called there, once per request.
  Status Start(const std::string& host, int port, SnapshotFn snapshot, Options options = {});
  // Closes the socket and joins the threads; harmless when not started.
  void Stop();

  // What the server's threads answer with (public for them only).
  struct Handler {
    SnapshotFn snapshot;
    Options options;
  };

 private:
  Handler handler_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace pgkeeper

#endif  // PGKEEPER_API_H_

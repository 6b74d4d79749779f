#include "api/api.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>

#include "api/api_auth.h"
#include "base/dynlib.h"

namespace pgkeeper {

namespace {

// libmicrohttpd is loaded when the API starts (dynlib.h): it and GnuTLS,
// with the libraries that brings, cost every start of the binary about 4 ms
// on a small virtual machine, and only the supervisor serves the API.
#define PGK_MHD_FUNCTIONS(X)                                                                      \
  X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_is_feature_supported) X(MHD_suspend_connection)   \
  X(MHD_resume_connection) X(MHD_create_response_from_buffer) X(MHD_add_response_header)         \
  X(MHD_queue_response) X(MHD_destroy_response) X(MHD_get_connection_values)                     \
  X(MHD_basic_auth_get_username_password) X(MHD_free)

PGK_DYNAMIC_LIBRARY(Libmhd, Mhd, "libmicrohttpd.so.12", "libmicrohttpd12", PGK_MHD_FUNCTIONS)

}  // namespace

std::optional<LagLimit> ParseLag(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0 || i > 20) return std::nullopt;
  std::string num = text.substr(0, i);
  if (num.find('.') != num.rfind('.') || num == ".") return std::nullopt;
  double v = std::strtod(num.c_str(), nullptr);
  std::string unit = text.substr(i);
  static const std::map<std::string, double> kSizes = {
      {"", 1}, {"B", 1}, {"kB", 1024}, {"KB", 1024}, {"MB", 1024.0 * 1024},
      {"GB", 1024.0 * 1024 * 1024}, {"TB", 1024.0 * 1024 * 1024 * 1024}};
  static const std::map<std::string, double> kTimes = {
      {"ms", 0.001}, {"s", 1}, {"min", 60}, {"h", 3600}, {"d", 86400}};
  if (auto it = kSizes.find(unit); it != kSizes.end()) return LagLimit{false, v * it->second};
  if (auto it = kTimes.find(unit); it != kTimes.end()) return LagLimit{true, v * it->second};
  return std::nullopt;
}

namespace {

Reply Json(int status, const std::string& json) { return Reply{status, "application/json", json}; }

Reply Text(int status, const std::string& body) {
  return Reply{status, "text/plain; charset=utf-8", body};
}

bool WithinLag(const Snapshot& s, const LagLimit& limit) {
  if (limit.is_time) return s.lag_seconds >= 0 && s.lag_seconds <= limit.value;
  return s.lag_bytes >= 0 && static_cast<double>(s.lag_bytes) <= limit.value;
}

Reply RouteGet(const PublishedSnapshot& p, const std::string& path,
               const std::map<std::string, std::string>& query, int64_t now_ms) {
  const Snapshot& s = p.snapshot;
  const bool fresh = s.taken_at_ms > 0 && now_ms - s.taken_at_ms <= kStaleAfterMs;
  const bool up = fresh && s.postgres_up;
  const std::string role = s.role();
  auto check = [&](bool ok) { return Json(ok ? 200 : 503, p.json); };

  if (path == "/" || path == "/primary" || path == "/master" || path == "/read-write") {
    return check(up && !s.in_recovery && s.serving());
  }
  if (path == "/replica") {
    bool ok = up && s.in_recovery && s.streaming;
    if (auto it = query.find("lag"); it != query.end()) {
      std::optional<LagLimit> limit = ParseLag(it->second);
      if (!limit) {
        return Text(400, "lag='" + it->second +
                             "' is not a size or a duration; expected e.g. 16MB, 1024, 5s or 500ms\n");
      }
      ok = ok && WithinLag(s, *limit);
    }
    return check(ok);
  }
  if (path == "/read-only") return check(up && s.serving());
  if (path == "/health") return check(up);
  if (path == "/liveness") {
    // The monitor refreshes the snapshot every second, also while cloning.
    return check(s.taken_at_ms > 0 && now_ms - s.taken_at_ms <= 3 * kStaleAfterMs);
  }
  if (path == "/readiness") {
    // The same verdict as `pgkeeper health --ready`: a stalled replicant is not ready.
    return check(up && s.serving() && JudgeHealth(s.keeper, true, true, HealthMode::kReady).ok);
  }
  if (path == "/status") return Json(200, p.json);
  if (path == "/metrics") {
    return Reply{200, "text/plain; version=0.0.4; charset=utf-8", RenderMetrics(s, now_ms)};
  }
  return Text(404, "not found: " + path + "\n");
}

}  // namespace

Reply Route(const PublishedSnapshot& p, const std::string& method, const std::string& path,
            const std::map<std::string, std::string>& query, int64_t now_ms) {
  if (method != "GET" && method != "HEAD" && method != "OPTIONS") {
    Reply r = Text(405, "method " + method + " not allowed; use GET, HEAD or OPTIONS (POST for "
                        "/promote, /follow, /reload and /switchover)\n");
    return r;
  }
  Reply r = RouteGet(p, path, query, now_ms);
  if (method != "GET") r.body.clear();
  return r;
}

Reply Route(const Snapshot& s, const std::string& method, const std::string& path,
            const std::map<std::string, std::string>& query, int64_t now_ms) {
  return Route(Publish(s), method, path, query, now_ms);
}

namespace {

constexpr unsigned int kMaxConnections = 64;
constexpr unsigned int kIdleTimeoutSeconds = 5;

MHD_Result AddQueryParam(void* cls, MHD_ValueKind, const char* key, const char* value) {
  // The first of repeated keys wins; "?a" is a = "".
  static_cast<std::map<std::string, std::string>*>(cls)->emplace(key, value ? value : "");
  return MHD_YES;
}

// The state of a POST that runs an action: set aside (suspended) while
// the action runs, answered when MHD calls Answer again after the resume.
struct ActionCall {
  Reply reply;
  std::atomic<bool> done{false};
};

// Carries action out on a thread of its own, then resumes connection.
void RunAction(ApiServer::Handler* h, MHD_Connection* connection, ActionCall* call, ApiAction action) {
  {
    std::lock_guard<std::mutex> lock(h->mu);
    ++h->actions_running;
    ++h->replies_pending;
  }
  Mhd().MHD_suspend_connection(connection);
  std::thread([h, connection, call, action = std::move(action)] {
    auto stopping = [h] { return h->stopping.load(); };
    call->reply = h->options.action ? h->options.action(action, stopping)
                                    : Text(503, "this server carries out no actions\n");
    call->done = true;
    Mhd().MHD_resume_connection(connection);
    std::lock_guard<std::mutex> lock(h->mu);
    --h->actions_running;
    h->idle.notify_all();
  }).detach();
}

MHD_Result Queue(MHD_Connection* connection, const Reply& r) {
  MHD_Response* response =
      Mhd().MHD_create_response_from_buffer(r.body.size(), const_cast<char*>(r.body.data()),
                                            MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  Mhd().MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
  if (r.status == MHD_HTTP_METHOD_NOT_ALLOWED) {
    Mhd().MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, OPTIONS, POST");
  }
  if (r.status == MHD_HTTP_UNAUTHORIZED) {
    Mhd().MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                  "Basic realm=\"pgkeeper\", charset=\"UTF-8\"");
  }
  MHD_Result queued =
      Mhd().MHD_queue_response(connection, static_cast<unsigned int>(r.status), response);
  Mhd().MHD_destroy_response(response);
  return queued;
}

int started_marker;

// MHD calls this once when the headers are in, then with each piece of a
// request body, then once more with none left; the reply goes out on the
// last (for an action: on the call after its resume).
MHD_Result Answer(void* cls, MHD_Connection* connection, const char* path, const char* method,
                  const char* /*version*/, const char* /*upload_data*/, size_t* upload_data_size,
                  void** request_state) {
  if (*request_state == nullptr) {
    *request_state = &started_marker;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0;  // a body is read and ignored
    return MHD_YES;
  }
  auto* handler = static_cast<ApiServer::Handler*>(cls);
  if (*request_state != &started_marker) {
    auto* call = static_cast<ActionCall*>(*request_state);
    return call->done ? Queue(connection, call->reply) : MHD_YES;
  }
  std::map<std::string, std::string> query;
  Mhd().MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, AddQueryParam, &query);
  const std::string m = method;
  if (m == MHD_HTTP_METHOD_POST && IsActionPath(path)) {
    std::optional<BasicCredentials> credentials;
    char* password = nullptr;
    if (char* user = Mhd().MHD_basic_auth_get_username_password(connection, &password)) {
      credentials = BasicCredentials{user, password ? password : ""};
      Mhd().MHD_free(user);
    }
    if (password) Mhd().MHD_free(password);
    ApiAction action;
    Reply r = RouteAction(handler->options.security, path, query, credentials, &action);
    if (r.status != 0) return Queue(connection, r);
    if (handler->stopping) return Queue(connection, Text(503, "pgkeeper is stopping\n"));
    auto* call = new ActionCall;
    *request_state = call;  // freed by Completed
    RunAction(handler, connection, call, std::move(action));
    return MHD_YES;
  }
  // For HEAD, MHD drops the body itself but sends its Content-Length, so it
  // gets GET's reply: HTTP wants the same Content-Length as GET, or none.
  std::shared_ptr<const PublishedSnapshot> published = handler->snapshot();
  return Queue(connection, Route(*published, m == MHD_HTTP_METHOD_HEAD ? MHD_HTTP_METHOD_GET : m,
                                 path, query, WallClockMs()));
}

void Completed(void* cls, MHD_Connection* /*connection*/, void** request_state,
               MHD_RequestTerminationCode /*code*/) {
  if (*request_state != nullptr && *request_state != &started_marker) {
    delete static_cast<ActionCall*>(*request_state);
    auto* h = static_cast<ApiServer::Handler*>(cls);
    std::lock_guard<std::mutex> lock(h->mu);
    --h->replies_pending;
    h->idle.notify_all();
  }
  *request_state = nullptr;
}

// nullptr when addr cannot be bound (in use, not an address of this host).
MHD_Daemon* Serve(sockaddr* addr, int port, ApiServer::Handler* handler) {
  // One polling thread (epoll on Linux) serves every connection; an action
  // runs on a thread of its own while its connection is suspended. SIGPIPE
  // is blocked in every thread, and MHD sends with MSG_NOSIGNAL anyway.
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME;
  if (addr->sa_family == AF_INET6) {
    flags |= MHD_USE_DUAL_STACK;
  } else if (addr->sa_family != AF_INET) {
    return nullptr;
  }
  const ApiServer::Options& o = handler->options;
  if (o.security.tls) {
    flags |= MHD_USE_TLS;
    return Mhd().MHD_start_daemon(flags, static_cast<uint16_t>(port), nullptr, nullptr, &Answer,
                                  handler,
                                  MHD_OPTION_SOCK_ADDR, addr,
                                  MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
                                  MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutSeconds,
                                  MHD_OPTION_NOTIFY_COMPLETED, &Completed, handler,
                                  MHD_OPTION_HTTPS_MEM_KEY, o.key_pem.c_str(),
                                  MHD_OPTION_HTTPS_MEM_CERT, o.cert_pem.c_str(),
                                  MHD_OPTION_END);
  }
  return Mhd().MHD_start_daemon(flags, static_cast<uint16_t>(port), nullptr, nullptr, &Answer,
                                handler,
                                MHD_OPTION_SOCK_ADDR, addr,
                                MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
                                MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutSeconds,
                                MHD_OPTION_NOTIFY_COMPLETED, &Completed, handler,
                                MHD_OPTION_END);
}

}  // namespace

ApiServer::ApiServer() = default;
ApiServer::~ApiServer() { Stop(); }

Status ApiServer::Start(const std::string& host, int port, SnapshotFn snapshot, Options options) {
  Stop();
  handler_ = std::make_unique<Handler>();
  handler_->snapshot = std::move(snapshot);
  handler_->options = std::move(options);
  if (!Mhd().error.empty()) return Status::System("cannot serve the HTTP API: " + Mhd().error);
  if (handler_->options.security.tls &&
      Mhd().MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    return Status::System("this libmicrohttpd cannot serve HTTPS (PGKEEPER_API_TLS)");
  }
  std::string bind_host = host == "*" || host.empty() ? "0.0.0.0" : host;
  // The configuration allows an IPv4 or IPv6 address or a host name; the
  // first of its addresses that can be bound is used.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addrs = nullptr;
  if (port > 0 && port <= 65535 &&
      ::getaddrinfo(bind_host.c_str(), std::to_string(port).c_str(), &hints, &addrs) == 0) {
    for (addrinfo* a = addrs; a != nullptr && daemon_ == nullptr; a = a->ai_next) {
      daemon_ = Serve(a->ai_addr, port, handler_.get());
    }
    ::freeaddrinfo(addrs);
  }
  if (daemon_ == nullptr) {
    return Status::System("cannot listen for the HTTP API on " + bind_host + ":" +
                          std::to_string(port) + " (PGKEEPER_API_PORT); is the port in use?");
  }
  return Status::Ok();
}

void ApiServer::Stop() {
  if (daemon_ == nullptr) return;
  {
    // MHD must not be stopped with a connection suspended: let the actions
    // give up and resume theirs first.
    std::unique_lock<std::mutex> lock(handler_->mu);
    handler_->stopping = true;
    handler_->idle.wait(lock, [this] { return handler_->actions_running == 0; });
    // Their replies go out from MHD's thread after the resume: a switchover
    // asked of the leader ends only as pgkeeper exits, and its caller still
    // gets the answer.
    handler_->idle.wait_for(lock, std::chrono::seconds(2),
                            [this] { return handler_->replies_pending == 0; });
  }
  Mhd().MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

}  // namespace pgkeeper

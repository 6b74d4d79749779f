#include "api.h"

#include <httplib.h>

#include <cctype>
#include <cstdlib>

namespace pgkeeper {

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

Reply Json(int status, const Snapshot& s) { return Reply{status, "application/json", ToJson(s) + "\n"}; }

Reply Text(int status, const std::string& body) {
  return Reply{status, "text/plain; charset=utf-8", body};
}

bool WithinLag(const Snapshot& s, const LagLimit& limit) {
  if (limit.is_time) return s.lag_seconds >= 0 && s.lag_seconds <= limit.value;
  return s.lag_bytes >= 0 && static_cast<double>(s.lag_bytes) <= limit.value;
}

Reply RouteGet(const Snapshot& s, const std::string& path,
               const std::map<std::string, std::string>& query, int64_t now_ms) {
  const bool fresh = s.taken_at_ms > 0 && now_ms - s.taken_at_ms <= kStaleAfterMs;
  const bool up = fresh && s.postgres_up;
  const std::string role = s.role();
  auto check = [&](bool ok) { return Json(ok ? 200 : 503, s); };

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
  if (path == "/status") return Json(200, s);
  if (path == "/metrics") {
    return Reply{200, "text/plain; version=0.0.4; charset=utf-8", RenderMetrics(s, now_ms)};
  }
  return Text(404, "not found: " + path + "\n");
}

}  // namespace

Reply Route(const Snapshot& s, const std::string& method, const std::string& path,
            const std::map<std::string, std::string>& query, int64_t now_ms) {
  if (method != "GET" && method != "HEAD" && method != "OPTIONS") {
    Reply r = Text(405, "method " + method + " not allowed; use GET, HEAD or OPTIONS\n");
    return r;
  }
  Reply r = RouteGet(s, path, query, now_ms);
  if (method != "GET") r.body.clear();
  return r;
}

ApiServer::ApiServer() = default;
ApiServer::~ApiServer() { Stop(); }

Status ApiServer::Start(const std::string& host, int port, SnapshotFn snapshot) {
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->set_keep_alive_max_count(100);
  server_->set_read_timeout(5, 0);
  server_->set_write_timeout(5, 0);
  auto handler = [snapshot](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> query;
    for (const auto& [k, v] : req.params) query.emplace(k, v);
    int64_t now_ms = WallClockMs();
    Reply r = Route(snapshot(), req.method, req.path, query, now_ms);
    res.status = r.status;
    if (r.status == 405) res.set_header("Allow", "GET, HEAD, OPTIONS");
    if (req.method == "GET") {
      res.set_content(r.body, r.content_type.c_str());
    } else {
      res.set_header("Content-Type", r.content_type);
    }
  };
  const std::string any = ".*";
  server_->Get(any, handler);  // cpp-httplib routes HEAD to GET handlers
  server_->Options(any, handler);
  server_->Post(any, handler);
  server_->Put(any, handler);
  server_->Patch(any, handler);
  server_->Delete(any, handler);
  std::string bind_host = host == "*" || host.empty() ? "0.0.0.0" : host;
  if (!server_->bind_to_port(bind_host.c_str(), port)) {
    return Status::System("cannot listen for the HTTP API on " + bind_host + ":" +
                          std::to_string(port) + " (PGKEEPER_API_PORT); is the port in use?");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void ApiServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace pgkeeper

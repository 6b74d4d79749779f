#include "api/api.h"
#include "snapshot_fixtures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using fixtures::Fresh;
using fixtures::kMB;
using fixtures::kNow;
using fixtures::Streaming;

// ---------------------------------------------------------------- snapshots

// Every snapshot below was taken a quarter second before the request unless
// the scenario is about its age.

Snapshot MasterUp() { return fixtures::Master(); }

// A replicant started with PROMOTE_MASTER (REPLICATE_FROM still set).
Snapshot PromotedMaster() {
  Snapshot s = MasterUp();
  s.keeper.promoted = true;
  s.keeper.configured_replicant = true;
  s.keeper.master = "pg-master:5432";
  s.timeline = 2;
  s.replicants.clear();
  return s;
}

// A replicant promoted live with `pgkeeper promote`, before the monitor
// recorded the promotion: REPLICATE_FROM set, no longer in recovery.
Snapshot LivePromotedReplicant() {
  Snapshot s = PromotedMaster();
  s.keeper.promoted = false;
  return s;
}


Snapshot StreamingSmallLag() { return Streaming(512, 0.1); }
// Exactly on the thresholds ?lag=1024 and ?lag=500ms: still within.
Snapshot StreamingLagAtThresholds() { return Streaming(1024, 0.5); }
// Above 1024 B and 500 ms, below 16 MB and 5 s.
Snapshot StreamingMediumLag() { return Streaming(4096, 2); }
Snapshot StreamingLargeLagInBytes() { return Streaming(64 * kMB, 0.2); }
Snapshot StreamingLargeLagInSeconds() { return Streaming(100, 30); }
Snapshot StreamingLargeLag() { return Streaming(64 * kMB, 30); }
// The monitor could not compute the lag (-1): no lag threshold is met.
Snapshot StreamingLagUnknown() { return Streaming(-1, -1); }

// Its master is gone: postgres still serves reads, the walreceiver does not stream.
Snapshot ReplicantMasterGone() {
  Snapshot s = Streaming(0, 0);
  s.keeper.phase = "standby";
  s.keeper.message = "following pg-master:5432, not streaming";
  s.streaming = false;
  return s;
}

// The master no longer has the WAL this replicant needs.
Snapshot StalledReplicant() { return fixtures::Stalled(); }

Snapshot CloningReplicant() {
  Snapshot s = fixtures::Cloning();
  s.keeper.clone.eta_seconds = 8;
  return s;
}

Snapshot WaitingForMaster() {
  Snapshot s = CloningReplicant();
  s.keeper.phase = "waiting-for-master";
  s.keeper.message = "waiting for master pg-master:5432 (attempt 3): no response";
  s.keeper.clone = CloneProgress();
  return s;
}

Snapshot Starting() {
  Snapshot s = Fresh();
  s.keeper.phase = "starting";
  s.keeper.message = "starting postgres";
  return s;
}

Snapshot Stopped() {
  Snapshot s = Fresh();
  s.keeper.phase = "stopped";
  s.keeper.message = "postgres exited with code 0";
  return s;
}

// Facts just older than the API trusts for role checks.
Snapshot StaleMaster() {
  Snapshot s = MasterUp();
  s.taken_at_ms = kNow - kStaleAfterMs - 1;
  return s;
}
Snapshot StaleReplicant() {
  Snapshot s = StreamingSmallLag();
  s.taken_at_ms = kNow - kStaleAfterMs - 1;
  return s;
}
// Exactly kStaleAfterMs old: still trusted.
Snapshot MasterAtStaleLimit() {
  Snapshot s = MasterUp();
  s.taken_at_ms = kNow - kStaleAfterMs;
  return s;
}
// So old that the supervisor itself must be hung.
Snapshot VeryStaleMaster() {
  Snapshot s = MasterUp();
  s.taken_at_ms = kNow - 3 * kStaleAfterMs - 1;
  return s;
}
Snapshot NeverTaken() {
  Snapshot s = MasterUp();
  s.taken_at_ms = 0;
  return s;
}

// ---------------------------------------------------------------- the decision table

// "/replica?lag=16MB" -> path and query, as the HTTP server hands them to Route.
struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

Target Split(const std::string& url) {
  Target t;
  size_t q = url.find('?');
  t.path = url.substr(0, q);
  if (q == std::string::npos) return t;
  std::string rest = url.substr(q + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t amp = rest.find('&', start);
    std::string kv = rest.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    size_t eq = kv.find('=');
    if (!kv.empty()) t.query.emplace(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return t;
}

Reply Request(const Snapshot& s, const std::string& method, const std::string& url,
              int64_t now_ms = kNow) {
  Target t = Split(url);
  return Route(s, method, t.path, t.query, now_ms);
}

constexpr std::array<const char*, 15> kEndpoints = {
    "/",           "/primary",          "/master",          "/read-write",
    "/replica",    "/replica?lag=16MB", "/replica?lag=1024", "/replica?lag=5s",
    "/replica?lag=500ms", "/read-only", "/health",           "/liveness",
    "/readiness",  "/status",           "/metrics"};

struct Scenario {
  const char* name;
  Snapshot (*make)();
  std::array<int, kEndpoints.size()> codes;  // in the order of kEndpoints
};

// clang-format off
const std::vector<Scenario>& Scenarios() {
  static const auto* table = new std::vector<Scenario>{
  //                                                   -- primary ---------  -- replica, ?lag=  --------------------  read  health live ready status metrics
  //                                                   /    prim mast rw     -    16MB 1024 5s   500ms                only
  {"MasterUp",                   MasterUp,              {200, 200, 200, 200,  503, 503, 503, 503, 503,               200,  200,  200, 200,  200,  200}},
  {"PromotedMaster",             PromotedMaster,        {200, 200, 200, 200,  503, 503, 503, 503, 503,               200,  200,  200, 200,  200,  200}},
  {"LivePromotedReplicant",      LivePromotedReplicant, {200, 200, 200, 200,  503, 503, 503, 503, 503,               200,  200,  200, 200,  200,  200}},
  {"StreamingSmallLag",          StreamingSmallLag,     {503, 503, 503, 503,  200, 200, 200, 200, 200,               200,  200,  200, 200,  200,  200}},
  {"StreamingLagAtThresholds",   StreamingLagAtThresholds, {503, 503, 503, 503, 200, 200, 200, 200, 200,             200,  200,  200, 200,  200,  200}},
  {"StreamingMediumLag",         StreamingMediumLag,    {503, 503, 503, 503,  200, 200, 503, 200, 503,               200,  200,  200, 200,  200,  200}},
  {"StreamingLargeLagInBytes",   StreamingLargeLagInBytes, {503, 503, 503, 503, 200, 503, 503, 200, 200,             200,  200,  200, 200,  200,  200}},
  {"StreamingLargeLagInSeconds", StreamingLargeLagInSeconds, {503, 503, 503, 503, 200, 200, 200, 503, 503,           200,  200,  200, 200,  200,  200}},
  {"StreamingLargeLag",          StreamingLargeLag,     {503, 503, 503, 503,  200, 503, 503, 503, 503,               200,  200,  200, 200,  200,  200}},
  {"StreamingLagUnknown",        StreamingLagUnknown,   {503, 503, 503, 503,  200, 503, 503, 503, 503,               200,  200,  200, 200,  200,  200}},
  {"ReplicantMasterGone",        ReplicantMasterGone,   {503, 503, 503, 503,  503, 503, 503, 503, 503,               200,  200,  200, 200,  200,  200}},
  {"StalledReplicant",           StalledReplicant,      {503, 503, 503, 503,  503, 503, 503, 503, 503,               200,  200,  200, 503,  200,  200}},
  {"CloningReplicant",           CloningReplicant,      {503, 503, 503, 503,  503, 503, 503, 503, 503,               503,  503,  200, 503,  200,  200}},
  {"WaitingForMaster",           WaitingForMaster,      {503, 503, 503, 503,  503, 503, 503, 503, 503,               503,  503,  200, 503,  200,  200}},
  {"Starting",                   Starting,              {503, 503, 503, 503,  503, 503, 503, 503, 503,               503,  503,  200, 503,  200,  200}},
  {"Stopped",                    Stopped,               {503, 503, 503, 503,  503, 503, 503, 503, 503,               503,  503,  200, 503,  200,  200}},
  {"StaleMaster",                StaleMaster,           {503, 503, 503, 503,  503, 503, 503, 503, 503,               503,  503,  200, 503,  200,  200}},
  {"StaleReplicant",             StaleReplicant,        {503, 503, 503, 503,  503, 503, 503, 503, 503,               503,  503,  200, 503,  200,  200}},
  {"MasterAtStaleLimit",         MasterAtStaleLimit,    {200, 200, 200, 200,  503, 503, 503, 503, 503,               200,  200,  200, 200,  200,  200}},
  {"VeryStaleMaster",            VeryStaleMaster,       {503, 503, 503, 503,  503, 503, 503, 503, 503,               503,  503,  503, 503,  200,  200}},
  {"NeverTaken",                 NeverTaken,            {503, 503, 503, 503,  503, 503, 503, 503, 503,               503,  503,  503, 503,  200,  200}},
  };
  return *table;
}
// clang-format on

void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

class RouteTable : public ::testing::TestWithParam<Scenario> {};

TEST_P(RouteTable, EveryEndpointAnswersItsCodeOnGet) {
  const Scenario& sc = GetParam();
  Snapshot s = sc.make();
  for (size_t i = 0; i < kEndpoints.size(); ++i) {
    Reply r = Request(s, "GET", kEndpoints[i]);
    EXPECT_EQ(r.status, sc.codes[i]) << sc.name << " GET " << kEndpoints[i] << "\n" << r.body;
  }
}

TEST_P(RouteTable, HeadAndOptionsAnswerGetsCodeAndTypeWithAnEmptyBody) {
  Snapshot s = GetParam().make();
  for (const char* url : kEndpoints) {
    Reply get = Request(s, "GET", url);
    EXPECT_FALSE(get.body.empty()) << "GET " << url;
    for (const char* method : {"HEAD", "OPTIONS"}) {
      Reply r = Request(s, method, url);
      EXPECT_EQ(r.status, get.status) << method << " " << url;
      EXPECT_EQ(r.content_type, get.content_type) << method << " " << url;
      EXPECT_EQ(r.body, "") << method << " " << url;
    }
  }
}

TEST_P(RouteTable, JsonBodiesParseAndCarryTheRole) {
  Snapshot s = GetParam().make();
  for (const char* url : kEndpoints) {
    if (std::string(url) == "/metrics") continue;
    Reply r = Request(s, "GET", url);
    EXPECT_EQ(r.content_type, "application/json") << url;
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << url << ": " << r.body;
    ASSERT_TRUE(j.is_object()) << url;
    EXPECT_EQ(j.value("role", ""), s.role()) << url;
    EXPECT_EQ(j.value("phase", ""), s.keeper.phase) << url;
  }
}

TEST_P(RouteTable, MetricsAreServedAsPrometheusText) {
  Reply r = Request(GetParam().make(), "GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.content_type, StartsWith("text/plain; version=0.0.4"));
  EXPECT_THAT(r.body, HasSubstr("# TYPE pgkeeper_role gauge\n"));
}

INSTANTIATE_TEST_SUITE_P(Route, RouteTable, ::testing::ValuesIn(Scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                           return std::string(info.param.name);
                         });

TEST(Route, EveryScenarioHasAUniqueNameAndTheRoleItIsMeantToShow) {
  std::map<std::string, int> seen;
  for (const auto& sc : Scenarios()) EXPECT_EQ(++seen[sc.name], 1) << sc.name;
  // The table covers every role the snapshot can report.
  std::map<std::string, std::string> roles;
  for (const auto& sc : Scenarios()) roles[sc.make().role()] = sc.name;
  for (const char* role : {"master", "promoted", "replicant", "cloning", "starting", "stopped"}) {
    EXPECT_EQ(roles.count(role), 1u) << "no scenario has role " << role;
  }
  EXPECT_EQ(MasterUp().role(), "master");
  EXPECT_EQ(PromotedMaster().role(), "promoted");
  EXPECT_EQ(LivePromotedReplicant().role(), "promoted");
  EXPECT_EQ(StalledReplicant().role(), "replicant");
  EXPECT_EQ(ReplicantMasterGone().role(), "replicant");
  EXPECT_EQ(CloningReplicant().role(), "cloning");
  EXPECT_EQ(WaitingForMaster().role(), "cloning");
  EXPECT_EQ(Starting().role(), "starting");
  EXPECT_EQ(Stopped().role(), "stopped");
}

// ---------------------------------------------------------------- methods and paths

TEST(Route, MethodsOtherThanGetHeadAndOptionsAre405NamingTheMethod) {
  for (const Snapshot& s : {MasterUp(), StreamingSmallLag(), CloningReplicant()}) {
    for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "get", ""}) {
      for (const char* url : {"/primary", "/replica?lag=16MB", "/status", "/metrics", "/nope",
                              "/replica?lag=abc"}) {
        Reply r = Request(s, method, url);
        EXPECT_EQ(r.status, 405) << method << " " << url;
        EXPECT_THAT(r.body, HasSubstr("method " + std::string(method) + " not allowed")) << method;
        EXPECT_THAT(r.body, HasSubstr("GET, HEAD or OPTIONS"));
      }
    }
  }
}

TEST(Route, UnknownPathsAre404NamingThePath) {
  for (const char* path : {"/nope", "/primary/", "/PRIMARY", "/replica/1", "/metrics.txt",
                           "//primary", "/status?", "", "/patroni", "/cluster"}) {
    Reply r = Route(MasterUp(), "GET", path, {}, kNow);
    EXPECT_EQ(r.status, 404) << "'" << path << "'";
    EXPECT_EQ(r.body, "not found: " + std::string(path) + "\n");
    EXPECT_THAT(r.content_type, StartsWith("text/plain"));
    Reply head = Route(MasterUp(), "HEAD", path, {}, kNow);
    EXPECT_EQ(head.status, 404);
    EXPECT_EQ(head.body, "");
  }
}

TEST(Route, UnreadableLagIs400NamingTheValueOnEveryRole) {
  for (const Snapshot& s : {MasterUp(), StreamingSmallLag(), ReplicantMasterGone(),
                            CloningReplicant(), StaleReplicant()}) {
    for (const std::string lag : {"abc", "10XB", "", "1.2.3", "-1", "5 s", "16mb", "."}) {
      Reply r = Request(s, "GET", "/replica?lag=" + lag);
      EXPECT_EQ(r.status, 400) << "lag='" << lag << "' on " << s.role();
      EXPECT_THAT(r.body, HasSubstr("lag='" + lag + "' is not a size or a duration"));
      EXPECT_THAT(r.body, HasSubstr("16MB"));
      EXPECT_THAT(r.content_type, StartsWith("text/plain"));
      EXPECT_EQ(Request(s, "HEAD", "/replica?lag=" + lag).status, 400);
      EXPECT_EQ(Request(s, "OPTIONS", "/replica?lag=" + lag).body, "");
    }
  }
}

TEST(Route, UnknownLagWithAThresholdIs503ButWithoutOneTheStreamingReplicantIs200) {
  Snapshot s = Streaming(-1, 0.1);
  EXPECT_EQ(Request(s, "GET", "/replica").status, 200);
  EXPECT_EQ(Request(s, "GET", "/replica?lag=16MB").status, 503);
  EXPECT_EQ(Request(s, "GET", "/replica?lag=1TB").status, 503);
  EXPECT_EQ(Request(s, "GET", "/replica?lag=5s").status, 200) << "the time lag is known";
  s = Streaming(100, -1);
  EXPECT_EQ(Request(s, "GET", "/replica?lag=16MB").status, 200) << "the byte lag is known";
  EXPECT_EQ(Request(s, "GET", "/replica?lag=1d").status, 503);
}

TEST(Route, LagThresholdsCompareInclusively) {
  Snapshot s = Streaming(16 * kMB, 5);
  EXPECT_EQ(Request(s, "GET", "/replica?lag=16MB").status, 200);
  EXPECT_EQ(Request(s, "GET", "/replica?lag=16777216").status, 200);
  EXPECT_EQ(Request(s, "GET", "/replica?lag=16777215").status, 503);
  EXPECT_EQ(Request(s, "GET", "/replica?lag=5s").status, 200);
  EXPECT_EQ(Request(s, "GET", "/replica?lag=4999ms").status, 503);
  EXPECT_EQ(Request(Streaming(0, 0), "GET", "/replica?lag=0").status, 200);
  EXPECT_EQ(Request(Streaming(1, 0), "GET", "/replica?lag=0").status, 503);
  EXPECT_EQ(Request(Streaming(0, 0), "GET", "/replica?lag=0s").status, 200);
}

TEST(Route, OtherQueryParametersAndLagOnOtherEndpointsAreIgnored) {
  EXPECT_EQ(Request(MasterUp(), "GET", "/primary?lag=abc").status, 200);
  EXPECT_EQ(Request(MasterUp(), "GET", "/read-only?lag=abc").status, 200);
  EXPECT_EQ(Request(MasterUp(), "GET", "/primary?foo=bar").status, 200);
  EXPECT_EQ(Request(StreamingSmallLag(), "GET", "/replica?foo=bar&lag=16MB").status, 200);
  EXPECT_EQ(Request(StreamingLargeLag(), "GET", "/replica?foo=bar&lag=16MB").status, 503);
}

TEST(Route, StatusIsTheJsonOfPgkeeperStatusWhateverTheRole) {
  for (const auto& sc : Scenarios()) {
    Snapshot s = sc.make();
    Reply r = Request(s, "GET", "/status");
    EXPECT_EQ(r.status, 200) << sc.name;
    EXPECT_EQ(r.body, ToJson(s) + "\n") << sc.name;
  }
}

TEST(Route, MetricsBodyIsRenderMetricsAtTheRequestTime) {
  Snapshot s = StreamingMediumLag();
  EXPECT_EQ(Request(s, "GET", "/metrics").body, RenderMetrics(s, kNow));
  EXPECT_THAT(Request(s, "GET", "/metrics", kNow + 1500).body,
              HasSubstr("\npgkeeper_snapshot_age_seconds 1.75\n"));
}

TEST(Route, CheckBodiesCarryTheFactsAHealthCheckerShows) {
  nlohmann::json j = nlohmann::json::parse(Request(StreamingMediumLag(), "GET", "/replica?lag=1024").body);
  EXPECT_EQ(j["role"], "replicant");
  EXPECT_EQ(j["lag_bytes"], 4096);
  EXPECT_EQ(j["streaming"], true);
  EXPECT_EQ(j["master"], "pg-master:5432");
  j = nlohmann::json::parse(Request(CloningReplicant(), "GET", "/readiness").body);
  EXPECT_EQ(j["role"], "cloning");
  EXPECT_EQ(j["clone"]["active"], true);
  EXPECT_EQ(j["clone"]["done_bytes"], 350 * kMB);
}

// ---------------------------------------------------------------- published snapshots

// Route(const Snapshot&) delegates to the published variant today; this
// keeps the two from drifting apart if either changes.
TEST(Route, APublishedSnapshotAnswersAsItsSnapshotDoes) {
  for (const auto& sc : Scenarios()) {
    Snapshot s = sc.make();
    PublishedSnapshot published = Publish(s);
    for (const char* method : {"GET", "HEAD", "OPTIONS", "POST"}) {
      for (const char* url : {"/replica", "/replica?lag=1024", "/primary", "/status", "/metrics",
                              "/readiness", "/nothing", "/replica?lag=abc"}) {
        for (int64_t now : {kNow, kNow + kStaleAfterMs}) {
          Target t = Split(url);
          Reply want = Route(s, method, t.path, t.query, now);
          Reply got = Route(published, method, t.path, t.query, now);
          EXPECT_EQ(got.status, want.status) << sc.name << " " << method << " " << url;
          EXPECT_EQ(got.content_type, want.content_type) << sc.name << " " << method << " " << url;
          EXPECT_EQ(got.body, want.body) << sc.name << " " << method << " " << url;
        }
      }
    }
  }
}

// JSON answers send the body rendered once, as it is; the verdict, /metrics
// and the 404 text still come from the snapshot and the request.
TEST(Route, APublishedSnapshotIsSentAsRenderedAndJudgedAtTheRequestTime) {
  const std::string kJson = "{\"rendered\": \"once\"}\n";
  PublishedSnapshot p{StreamingSmallLag(), kJson};
  auto get = [&](const std::string& path, int64_t now_ms = kNow) {
    return Route(p, "GET", path, {}, now_ms);
  };
  EXPECT_EQ(get("/replica").status, 200);
  EXPECT_EQ(get("/replica").body, kJson);
  EXPECT_EQ(get("/primary").status, 503);
  EXPECT_EQ(get("/primary").body, kJson);
  EXPECT_EQ(get("/status").body, kJson);
  EXPECT_EQ(get("/status").content_type, "application/json");
  EXPECT_EQ(get("/metrics").body, RenderMetrics(p.snapshot, kNow));
  EXPECT_EQ(get("/nothing").body, "not found: /nothing\n");
  // The snapshot was taken 250 ms before kNow: this much later it is stale.
  EXPECT_EQ(get("/replica", kNow + kStaleAfterMs).status, 503);
  EXPECT_EQ(get("/replica", kNow + kStaleAfterMs).body, kJson);
  Reply head = Route(p, "HEAD", "/replica", {}, kNow);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

// ---------------------------------------------------------------- ParseLag

struct LagCase {
  const char* text;
  bool is_time;
  double value;
};

TEST(ParseLag, SizesAreBytesWith1024BasedUnits) {
  const LagCase cases[] = {
      {"0", false, 0},
      {"1024", false, 1024},
      {"16777216", false, 16777216},
      {"0B", false, 0},
      {"1B", false, 1},
      {"100B", false, 100},
      {"1kB", false, 1024},
      {"1KB", false, 1024},
      {"64kB", false, 64 * 1024},
      {"16MB", false, 16.0 * kMB},
      {"1GB", false, 1024.0 * kMB},
      {"2TB", false, 2.0 * 1024 * 1024 * kMB},
      {"1.5MB", false, 1.5 * kMB},
      {"0.5kB", false, 512},
      {".5kB", false, 512},
      {"2.", false, 2},
      {"007", false, 7},
  };
  for (const auto& c : cases) {
    std::optional<LagLimit> lag = ParseLag(c.text);
    ASSERT_TRUE(lag.has_value()) << c.text;
    EXPECT_FALSE(lag->is_time) << c.text;
    EXPECT_DOUBLE_EQ(lag->value, c.value) << c.text;
  }
}

TEST(ParseLag, DurationsAreSeconds) {
  const LagCase cases[] = {
      {"0s", true, 0},        {"5s", true, 5},         {"500ms", true, 0.5},
      {"1ms", true, 0.001},   {"2min", true, 120},     {"1h", true, 3600},
      {"1d", true, 86400},    {"1.5s", true, 1.5},     {"0.25h", true, 900},
      {"90s", true, 90},      {"1500ms", true, 1.5},   {"0.5min", true, 30},
  };
  for (const auto& c : cases) {
    std::optional<LagLimit> lag = ParseLag(c.text);
    ASSERT_TRUE(lag.has_value()) << c.text;
    EXPECT_TRUE(lag->is_time) << c.text;
    EXPECT_DOUBLE_EQ(lag->value, c.value) << c.text;
  }
}

TEST(ParseLag, RejectsWhatIsNotASizeOrADuration) {
  for (const char* text :
       {"", "abc", "10XB", "1.2.3", "..", ".", ".kB", "-1", "+1", "-5s", " 5s", "5s ", "5 s",
        "5S", "5mb", "5kb", "5Mb", "5m", "5sec", "5secs", "5minutes", "5M", "5k", "MB", "s",
        "1e3", "1e3s", "0x10", "5s5", "5s,", "inf", "nan", "NaN", "5ms ", "5\n", "1,5s",
        "123456789012345678901"}) {
    EXPECT_FALSE(ParseLag(text).has_value()) << "'" << text << "'";
  }
}

TEST(ParseLag, TwentyDigitsAreAcceptedAndTwentyOneRefused) {
  EXPECT_TRUE(ParseLag(std::string(20, '9')).has_value());
  EXPECT_FALSE(ParseLag(std::string(21, '9')).has_value());
}

}  // namespace
}  // namespace pgkeeper

#include "api/api_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace pgkeeper {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kCert[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
constexpr char kKey[] = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";

FileReader Files(std::map<std::string, std::string> files) {
  return [files](const std::string& path, std::string* out) {
    auto it = files.find(path);
    if (it == files.end()) return Status::FromErrno(path, ENOENT);
    *out = it->second;
    return Status::Ok();
  };
}

const FileReader kFiles = Files({{"/s/cert", kCert}, {"/s/key", kKey}, {"/s/pass", "s3cret-pass\n"}});

Status Parse(const Env& env, ApiSecurity* a, TlsConfig tls = {}) {
  return ParseApiSecurity(env, kFiles, tls, a);
}

TEST(ParseApiSecurity, ByDefaultPlainHttpAndNoStateChangingEndpoints) {
  ApiSecurity a;
  ASSERT_TRUE(Parse({}, &a).ok());
  EXPECT_FALSE(a.tls);
  EXPECT_EQ(a.user, "pgkeeper");
  EXPECT_EQ(a.password, "");
}

TEST(ParseApiSecurity, TakesTlsAnOwnPairAUserAndAPasswordFile) {
  ApiSecurity a;
  ASSERT_TRUE(Parse({{"PGKEEPER_API_TLS", "True"}}, &a).ok());
  EXPECT_TRUE(a.tls);
  a = ApiSecurity();
  Status st = Parse({{"PGKEEPER_API_CERT_FILE", "/s/cert"},
                     {"PGKEEPER_API_KEY_FILE", "/s/key"},
                     {"PGKEEPER_API_USER", "ops"},
                     {"PGKEEPER_API_PASSWORD_FILE", "/s/pass"}},
                    &a);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(a.tls) << "an own pair means HTTPS";
  EXPECT_EQ(a.cert_file, "/s/cert");
  EXPECT_EQ(a.user, "ops");
  EXPECT_EQ(a.password, "s3cret-pass");
}

TEST(ParseApiSecurity, EveryBadFormIsRefusedNamingItsVariable) {
  struct Case {
    Env env;
    std::string starts, says;
    bool tls_off = false;
  };
  for (const Case& c : std::vector<Case>{
           {{{"PGKEEPER_API_TLS", "sure"}}, "PGKEEPER_API_TLS='sure'", "boolean"},
           {{{"PGKEEPER_API_CERT_FILE", "/s/cert"}}, "PGKEEPER_API_CERT_FILE is set but", "both"},
           {{{"PGKEEPER_API_KEY_FILE", "/s/key"}}, "PGKEEPER_API_KEY_FILE is set but", "both"},
           {{{"PGKEEPER_API_CERT_FILE", "/s/key"}, {"PGKEEPER_API_KEY_FILE", "/s/key"}},
            "PGKEEPER_API_CERT_FILE=/s/key", "no certificate"},
           {{{"PGKEEPER_API_CERT_FILE", "/s/cert"}, {"PGKEEPER_API_KEY_FILE", "/nope"}},
            "PGKEEPER_API_KEY_FILE=/nope cannot be read", "expected"},
           {{{"PGKEEPER_API_USER", "a:b"}}, "PGKEEPER_API_USER='a:b'", "without ':'"},
           {{{"PGKEEPER_API_PASSWORD", "short"}}, "PGKEEPER_API_PASSWORD is shorter", "8"},
           {{{"PGKEEPER_API_PASSWORD_FILE", "/nope"}}, "PGKEEPER_API_PASSWORD_FILE", "cannot read"},
           {{{"PGKEEPER_API_PASSWORD", "long-enough"}, {"PGKEEPER_API_PASSWORD_FILE", "/s/pass"}},
            "PGKEEPER_API_PASSWORD and PGKEEPER_API_PASSWORD_FILE", "only one"},
           {{{"PGKEEPER_API_TLS", "True"}}, "PGKEEPER_API_TLS=True", "PGKEEPER_TLS=False", true},
       }) {
    ApiSecurity a;
    TlsConfig tls;
    tls.enabled = !c.tls_off;
    Status st = Parse(c.env, &a, tls);
    ASSERT_FALSE(st.ok()) << c.starts;
    EXPECT_EQ(st.code(), ExitCode::kConfig) << c.starts;
    EXPECT_THAT(st.message(), StartsWith(c.starts));
    EXPECT_THAT(st.message(), HasSubstr(c.says));
    EXPECT_EQ(st.message().find('\n'), std::string::npos);
  }
}

TEST(ParseApiSecurity, IsPartOfTheConfiguration) {
  Config c;
  Status st = ParseConfig({{"POSTGRES_PASS", "x"}, {"PGKEEPER_API_PASSWORD_FILE", "/s/pass"}}, kFiles, &c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.api.password, "s3cret-pass");
  c.pgdata = "/d";
  EXPECT_EQ(ApiCertPath(c), "/d.pgkeeper/tls/server.crt") << "PostgreSQL's pair by default";
  c.api.cert_file = "/s/cert";
  c.api.key_file = "/s/key";
  EXPECT_EQ(ApiCertPath(c), "/d.pgkeeper/tls/api.crt");
  EXPECT_EQ(ApiKeyPath(c), "/d.pgkeeper/tls/api.key");
}

ApiSecurity Locked() {
  ApiSecurity a;
  a.password = "s3cret-pass";
  return a;
}

TEST(RouteAction, WithoutAPasswordNothingThatChangesStateIsServed) {
  ApiAction action;
  for (const char* path : {"/promote", "/follow", "/reload", "/switchover"}) {
    Reply r = RouteAction(ApiSecurity(), path, {}, BasicCredentials{"pgkeeper", ""}, &action);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_THAT(r.body, HasSubstr("PGKEEPER_API_PASSWORD_FILE"));
  }
}

TEST(RouteAction, AskForTheRightCredentials) {
  ApiAction action;
  Reply r = RouteAction(Locked(), "/promote", {}, std::nullopt, &action);
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("credentials required"));
  r = RouteAction(Locked(), "/promote", {}, BasicCredentials{"pgkeeper", "s3cret-pasS"}, &action);
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("wrong user or password"));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("s3cret")));
  r = RouteAction(Locked(), "/promote", {}, BasicCredentials{"admin", "s3cret-pass"}, &action);
  EXPECT_EQ(r.status, 401);
}

TEST(RouteAction, AuthorisedRequestsBecomeTheCommandsRequests) {
  ApiAction a;
  const BasicCredentials ok{"pgkeeper", "s3cret-pass"};
  ASSERT_EQ(RouteAction(Locked(), "/promote", {}, ok, &a).status, 0);
  EXPECT_EQ(a.name, "promote");
  EXPECT_EQ(a.request, "check");
  ASSERT_EQ(RouteAction(Locked(), "/promote", {{"force", "true"}}, ok, &a).status, 0);
  EXPECT_EQ(a.request, "force");
  EXPECT_EQ(RouteAction(Locked(), "/promote", {{"force", "maybe"}}, ok, &a).status, 400);
  ASSERT_EQ(RouteAction(Locked(), "/follow", {{"to", "pg-replicant:5432"}}, ok, &a).status, 0);
  EXPECT_EQ(a.request, "pg-replicant:5432");
  EXPECT_EQ(RouteAction(Locked(), "/follow", {}, ok, &a).status, 400);
  ASSERT_EQ(RouteAction(Locked(), "/reload", {}, ok, &a).status, 0);
  EXPECT_EQ(a.name, "reload");
  ASSERT_EQ(RouteAction(Locked(), "/switchover", {}, ok, &a).status, 0);
  EXPECT_EQ(a.name, "switchover");
  EXPECT_EQ(a.request, "") << "no target: the best other node";
  ASSERT_EQ(RouteAction(Locked(), "/switchover", {{"to", "pg-2"}}, ok, &a).status, 0);
  EXPECT_EQ(a.request, "pg-2");
  EXPECT_EQ(RouteAction(Locked(), "/switchover", {{"to", "pg 2"}}, ok, &a).status, 400);
  EXPECT_TRUE(IsActionPath("/promote"));
  EXPECT_TRUE(IsActionPath("/switchover"));
  EXPECT_FALSE(IsActionPath("/primary"));
}

TEST(ActionReply, SaysWhatPgkeeperAnswered) {
  ApiAction a;
  a.name = "promote";
  Reply r = ActionReply(a, Status::Ok(), "promoted in 80 ms");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\"message\":\"promoted in 80 ms\""));
  r = ActionReply(a, Status::State("this node is not a running replicant"), "");
  EXPECT_EQ(r.status, 409);
  r = ActionReply(a, Status::State("pgkeeper did not answer within 120 s; its log says why"), "");
  EXPECT_EQ(r.status, 503);
}

}  // namespace
}  // namespace pgkeeper

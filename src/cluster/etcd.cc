#include "cluster/etcd.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/dynlib.h"
#include "base/values.h"

namespace pgkeeper {

using nlohmann::json;

Status ParseEtcdEndpoints(const std::string& value, std::vector<std::string>* endpoints) {
  endpoints->clear();
  for (std::string item : SplitList(value)) {
    while (!item.empty() && item.back() == '/') item.pop_back();
    if (item.empty()) continue;
    const bool http = item.rfind("http://", 0) == 0, https = item.rfind("https://", 0) == 0;
    // The same host[:port] parse as every other address; a URL names its port.
    HostPort at;
    const bool host_port_ok = ParseHostPort(item.substr(http ? 7 : https ? 8 : 0), 0, &at).ok() &&
                              at.port > 0;
    if ((!http && !https) || !host_port_ok) {
      return Status::Config("ETCD_ENDPOINTS: '" + item +
                            "' is not an etcd client URL; expected http://HOST:PORT or "
                            "https://HOST:PORT, comma-separated (e.g. http://etcd1:2379)");
    }
    endpoints->push_back(item);
  }
  if (endpoints->empty()) {
    return Status::Config("ETCD_ENDPOINTS: no endpoint given; expected http://HOST:PORT, "
                          "comma-separated");
  }
  return Status::Ok();
}

namespace etcd {
namespace {

// int64 fields come as JSON strings from the gateway (proto3 mapping).
int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::string Str(int64_t v) { return std::to_string(v); }

Status Parse(const std::string& answer, json* j) {
  *j = json::parse(answer, nullptr, false);
  if (j->is_discarded() || !j->is_object()) {
    return Status::Tool("etcd answered something that is not JSON: " + answer.substr(0, 200));
  }
  if (j->contains("error") || (j->contains("code") && Int(*j, "code") != 0)) {
    std::string msg = j->value("message", "");
    if (msg.empty() && (*j)["error"].is_string()) msg = (*j)["error"].get<std::string>();
    return Status::Tool("etcd: " + (msg.empty() ? answer.substr(0, 200) : msg));
  }
  return Status::Ok();
}

Status ReadKvs(const json& list, std::vector<EtcdKv>* kvs) {
  if (!list.is_array()) return Status::Ok();
  for (const auto& item : list) {
    EtcdKv kv;
    if (!Base64Decode(item.value("key", ""), &kv.key) ||
        !Base64Decode(item.value("value", ""), &kv.value)) {
      return Status::Tool("etcd sent a key or value that is not base64");
    }
    kv.create_revision = Int(item, "create_revision");
    kv.mod_revision = Int(item, "mod_revision");
    kv.lease = Int(item, "lease");
    kvs->push_back(std::move(kv));
  }
  return Status::Ok();
}

json PutOp(const std::string& key, const std::string& value, int64_t lease) {
  json put = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) put["lease"] = Str(lease);
  return {{"request_put", put}};
}

json ValueIs(const std::string& key, const std::string& expected) {
  return {{"target", "VALUE"}, {"result", "EQUAL"}, {"key", Base64Encode(key)},
          {"value", Base64Encode(expected)}};
}

}  // namespace

std::string Base64Encode(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Base64Decode(std::string_view text, std::string* raw) {
  raw->clear();
  if (text.empty()) return true;
  if (text.size() % 4 != 0) return false;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the padding's zero bytes too.
  size_t pad = (text.back() == '=') + (text.size() > 1 && text[text.size() - 2] == '=');
  out.resize(static_cast<size_t>(n) - pad);
  *raw = std::move(out);
  return true;
}

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

std::string GrantBody(int ttl_seconds) { return json{{"TTL", Str(ttl_seconds)}}.dump(); }
std::string KeepAliveBody(int64_t lease) { return json{{"ID", Str(lease)}}.dump(); }
std::string RevokeBody(int64_t lease) { return json{{"ID", Str(lease)}}.dump(); }

std::string RangeBody(const std::string& key, bool prefix) {
  json j = {{"key", Base64Encode(key)}};
  if (prefix) j["range_end"] = Base64Encode(PrefixEnd(key));
  return j.dump();
}

std::string CreateIfAbsentBody(const std::string& key, const std::string& value, int64_t lease) {
  json cmp = {{"target", "CREATE"}, {"result", "EQUAL"}, {"key", Base64Encode(key)},
              {"create_revision", "0"}};
  json read = {{"request_range", {{"key", Base64Encode(key)}}}};
  return json{{"compare", {cmp}}, {"success", {PutOp(key, value, lease)}}, {"failure", {read}}}
      .dump();
}

std::string ReplaceIfBody(const std::string& key, const std::string& expected,
                          const std::string& value, int64_t lease) {
  json read = {{"request_range", {{"key", Base64Encode(key)}}}};
  return json{{"compare", {ValueIs(key, expected)}},
              {"success", {PutOp(key, value, lease)}},
              {"failure", {read}}}
      .dump();
}

std::string DeleteIfBody(const std::string& key, const std::string& expected,
                         const KeyValues& puts) {
  json ops = json::array();
  for (const auto& [k, v] : puts) ops.push_back(PutOp(k, v, 0));
  ops.push_back({{"request_delete_range", {{"key", Base64Encode(key)}}}});
  return json{{"compare", {ValueIs(key, expected)}}, {"success", ops}}.dump();
}

std::string PutBody(const std::string& key, const std::string& value, int64_t lease) {
  return PutOp(key, value, lease)["request_put"].dump();
}

Status ParseGrant(const std::string& answer, int64_t* lease, int* ttl_seconds) {
  json j;
  PGK_RETURN_IF_ERROR(Parse(answer, &j));
  *lease = Int(j, "ID");
  *ttl_seconds = static_cast<int>(Int(j, "TTL"));
  if (*lease == 0 || *ttl_seconds <= 0) {
    return Status::Tool("etcd granted no lease: " + answer.substr(0, 200));
  }
  return Status::Ok();
}

Status ParseKeepAlive(const std::string& answer, int* ttl_seconds) {
  json j;
  PGK_RETURN_IF_ERROR(Parse(answer, &j));
  const json& r = j.contains("result") ? j["result"] : j;
  *ttl_seconds = static_cast<int>(Int(r, "TTL"));
  return Status::Ok();
}

Status ParseRange(const std::string& answer, std::vector<EtcdKv>* kvs, int64_t* revision) {
  json j;
  PGK_RETURN_IF_ERROR(Parse(answer, &j));
  kvs->clear();
  if (revision) *revision = j.contains("header") ? Int(j["header"], "revision") : 0;
  return ReadKvs(j.value("kvs", json::array()), kvs);
}

Status ParseTxn(const std::string& answer, bool* succeeded, std::vector<EtcdKv>* kvs) {
  json j;
  PGK_RETURN_IF_ERROR(Parse(answer, &j));
  *succeeded = j.value("succeeded", false);  // false is left out of the answer
  kvs->clear();
  for (const auto& r : j.value("responses", json::array())) {
    if (r.contains("response_range")) {
      PGK_RETURN_IF_ERROR(ReadKvs(r["response_range"].value("kvs", json::array()), kvs));
    }
  }
  return Status::Ok();
}

}  // namespace etcd

namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// libcurl is loaded when the first client is made, that is only in cluster
// mode: linked in, it cost every node about 0.8 MB of resident memory
// (bench figure 7) for code most never run.
struct Curl {
  decltype(&curl_global_init) global_init = nullptr;
  decltype(&curl_easy_init) easy_init = nullptr;
  decltype(&curl_easy_setopt) easy_setopt = nullptr;
  decltype(&curl_easy_perform) easy_perform = nullptr;
  decltype(&curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&curl_easy_strerror) easy_strerror = nullptr;
  decltype(&curl_slist_append) slist_append = nullptr;
  decltype(&curl_slist_free_all) slist_free_all = nullptr;
  std::string error;  // why it could not be loaded; empty when loaded
};

const Curl& LoadCurl() {
  static Curl curl;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* kName = "libcurl.so.4";
    void* lib = OpenLibrary(kName, "libcurl4", &curl.error);
    if (lib == nullptr) return;
    LoadFunction(lib, kName, "curl_global_init", &curl.global_init, &curl.error);
    LoadFunction(lib, kName, "curl_easy_init", &curl.easy_init, &curl.error);
    LoadFunction(lib, kName, "curl_easy_setopt", &curl.easy_setopt, &curl.error);
    LoadFunction(lib, kName, "curl_easy_perform", &curl.easy_perform, &curl.error);
    LoadFunction(lib, kName, "curl_easy_getinfo", &curl.easy_getinfo, &curl.error);
    LoadFunction(lib, kName, "curl_easy_cleanup", &curl.easy_cleanup, &curl.error);
    LoadFunction(lib, kName, "curl_easy_strerror", &curl.easy_strerror, &curl.error);
    LoadFunction(lib, kName, "curl_slist_append", &curl.slist_append, &curl.error);
    LoadFunction(lib, kName, "curl_slist_free_all", &curl.slist_free_all, &curl.error);
    if (curl.error.empty()) curl.global_init(CURL_GLOBAL_DEFAULT);
  });
  return curl;
}

}  // namespace

EtcdClient::EtcdClient(std::vector<std::string> endpoints, int timeout_ms)
    : endpoints_(std::move(endpoints)), timeout_ms_(timeout_ms) {
  LoadCurl();
}

Status EtcdClient::Post(const std::string& path, const std::string& body, std::string* answer) {
  const Curl& c = LoadCurl();
  if (!c.error.empty()) return Status::System(c.error);
  std::string failures;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t at = (current_ + i) % endpoints_.size();
    const std::string url = endpoints_[at] + path;
    CURL* curl = c.easy_init();
    if (curl == nullptr) return Status::System("curl_easy_init failed");
    answer->clear();
    curl_slist* headers = c.slist_append(nullptr, "Content-Type: application/json");
    c.easy_setopt(curl, CURLOPT_URL, url.c_str());
    c.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    c.easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    c.easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    c.easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
    c.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms_));
    c.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    c.easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
    c.easy_setopt(curl, CURLOPT_WRITEDATA, answer);
    CURLcode rc = c.easy_perform(curl);
    long http = 0;
    c.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
    c.slist_free_all(headers);
    c.easy_cleanup(curl);
    // The gateway answers errors of the request itself (a lease not found)
    // with a JSON body and a 4xx/5xx code: that is an answer, for the parser.
    if (rc == CURLE_OK && http != 0 && !answer->empty() && (*answer)[0] == '{') {
      current_ = at;
      return Status::Ok();
    }
    failures += (failures.empty() ? "" : "; ") + endpoints_[at] + ": " +
                (rc != CURLE_OK ? c.easy_strerror(rc) : "HTTP " + std::to_string(http));
  }
  return Status::Tool("no etcd endpoint answered (" + failures + ")");
}

Status EtcdClient::Grant(int ttl_seconds, int64_t* lease, int* granted_ttl) {
  std::string a;
  PGK_RETURN_IF_ERROR(Post("/v3/lease/grant", etcd::GrantBody(ttl_seconds), &a));
  return etcd::ParseGrant(a, lease, granted_ttl);
}

Status EtcdClient::KeepAlive(int64_t lease, int* ttl_seconds) {
  std::string a;
  PGK_RETURN_IF_ERROR(Post("/v3/lease/keepalive", etcd::KeepAliveBody(lease), &a));
  return etcd::ParseKeepAlive(a, ttl_seconds);
}

Status EtcdClient::Revoke(int64_t lease) {
  std::string a;
  PGK_RETURN_IF_ERROR(Post("/v3/lease/revoke", etcd::RevokeBody(lease), &a));
  int unused = 0;  // the answer holds only a header; this checks it is no error
  return etcd::ParseKeepAlive(a, &unused);
}

Status EtcdClient::Get(const std::string& key, std::vector<EtcdKv>* kvs) {
  std::string a;
  PGK_RETURN_IF_ERROR(Post("/v3/kv/range", etcd::RangeBody(key, false), &a));
  return etcd::ParseRange(a, kvs, nullptr);
}

Status EtcdClient::GetPrefix(const std::string& prefix, std::vector<EtcdKv>* kvs) {
  std::string a;
  PGK_RETURN_IF_ERROR(Post("/v3/kv/range", etcd::RangeBody(prefix, true), &a));
  return etcd::ParseRange(a, kvs, nullptr);
}

Status EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  std::string a;
  PGK_RETURN_IF_ERROR(Post("/v3/kv/put", etcd::PutBody(key, value, lease), &a));
  std::vector<EtcdKv> none;
  return etcd::ParseRange(a, &none, nullptr);
}

Status EtcdClient::CreateIfAbsent(const std::string& key, const std::string& value, int64_t lease,
                                  bool* created, EtcdKv* holder) {
  std::string a;
  PGK_RETURN_IF_ERROR(Post("/v3/kv/txn", etcd::CreateIfAbsentBody(key, value, lease), &a));
  std::vector<EtcdKv> kvs;
  PGK_RETURN_IF_ERROR(etcd::ParseTxn(a, created, &kvs));
  if (holder) *holder = kvs.empty() ? EtcdKv{} : kvs.front();
  return Status::Ok();
}

Status EtcdClient::ReplaceIf(const std::string& key, const std::string& expected,
                             const std::string& value, int64_t lease, bool* replaced) {
  std::string a;
  PGK_RETURN_IF_ERROR(Post("/v3/kv/txn", etcd::ReplaceIfBody(key, expected, value, lease), &a));
  std::vector<EtcdKv> kvs;
  return etcd::ParseTxn(a, replaced, &kvs);
}

Status EtcdClient::DeleteIf(const std::string& key, const std::string& expected, bool* deleted,
                            const etcd::KeyValues& puts) {
  std::string a;
  PGK_RETURN_IF_ERROR(Post("/v3/kv/txn", etcd::DeleteIfBody(key, expected, puts), &a));
  std::vector<EtcdKv> kvs;
  return etcd::ParseTxn(a, deleted, &kvs);
}

}  // namespace pgkeeper

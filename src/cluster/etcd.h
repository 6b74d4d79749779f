// What pgkeeper asks of etcd (v3 API, through etcd's JSON gateway: POST
// /v3/... with base64 keys and values): a lease with a short TTL, a key
// created only when absent and tied to that lease, renewal, reading a
// prefix, and replacing or deleting a key only while it holds a value we
// expect. Nothing of consensus is done here; etcd does that (issue 13).
//
// Request bodies and the reading of answers are pure functions (unit
// tests); EtcdClient sends them with libcurl, trying the endpoints in turn.
#ifndef PGKEEPER_ETCD_H_
#define PGKEEPER_ETCD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace pgkeeper {

struct EtcdKv {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;  // 0: not tied to a lease
};

// One URL per etcd member, "http://host:port" or "https://host:port".
// Reads ETCD_ENDPOINTS (comma-separated); an error names the variable and
// the bad item.
Status ParseEtcdEndpoints(const std::string& value, std::vector<std::string>* endpoints);

namespace etcd {

std::string Base64Encode(std::string_view raw);
// False for text that is not base64.
bool Base64Decode(std::string_view text, std::string* raw);
// The range_end that covers every key starting with prefix.
std::string PrefixEnd(const std::string& prefix);

// Request bodies (JSON text) for the gateway's paths.
std::string GrantBody(int ttl_seconds);                      // /v3/lease/grant
std::string KeepAliveBody(int64_t lease);                    // /v3/lease/keepalive
std::string RevokeBody(int64_t lease);                       // /v3/lease/revoke
std::string RangeBody(const std::string& key, bool prefix);  // /v3/kv/range
// /v3/kv/txn: put key=value under lease only if the key does not exist;
// otherwise read it (so the answer names who holds it).
std::string CreateIfAbsentBody(const std::string& key, const std::string& value, int64_t lease);
// /v3/kv/txn: put key=value under lease only if the key holds expected.
std::string ReplaceIfBody(const std::string& key, const std::string& expected,
                          const std::string& value, int64_t lease);
// /v3/kv/txn: delete key only if it holds expected.
// The same transaction puts each of puts (key, value; no lease) too.
using KeyValues = std::vector<std::pair<std::string, std::string>>;
std::string DeleteIfBody(const std::string& key, const std::string& expected,
                         const KeyValues& puts = {});
// /v3/kv/put, tied to lease unless it is 0.
std::string PutBody(const std::string& key, const std::string& value, int64_t lease = 0);

// Answers. Each fails (Status::Tool) on an error answer or text that is not
// what etcd sends, with etcd's own message when it gave one.
Status ParseGrant(const std::string& answer, int64_t* lease, int* ttl_seconds);
// *ttl_seconds is 0 when the lease is gone (expired or revoked).
Status ParseKeepAlive(const std::string& answer, int* ttl_seconds);
Status ParseRange(const std::string& answer, std::vector<EtcdKv>* kvs, int64_t* revision);
// *succeeded: whether the compare held; *kvs: the keys a failure branch read.
Status ParseTxn(const std::string& answer, bool* succeeded, std::vector<EtcdKv>* kvs);

}  // namespace etcd

class EtcdClient {
 public:
  // timeout_ms bounds each request to one endpoint, connection included.
  EtcdClient(std::vector<std::string> endpoints, int timeout_ms);

  Status Grant(int ttl_seconds, int64_t* lease, int* granted_ttl);
  Status KeepAlive(int64_t lease, int* ttl_seconds);
  Status Revoke(int64_t lease);
  Status Get(const std::string& key, std::vector<EtcdKv>* kvs);
  Status GetPrefix(const std::string& prefix, std::vector<EtcdKv>* kvs);
  Status Put(const std::string& key, const std::string& value, int64_t lease = 0);
  // *created false: someone holds key; *holder is what it holds then.
  Status CreateIfAbsent(const std::string& key, const std::string& value, int64_t lease,
                        bool* created, EtcdKv* holder);
  Status ReplaceIf(const std::string& key, const std::string& expected, const std::string& value,
                   int64_t lease, bool* replaced);
  Status DeleteIf(const std::string& key, const std::string& expected, bool* deleted,
                  const etcd::KeyValues& puts = {});

  // POSTs body to path on the endpoint that answered last, then the others;
  // fails naming every endpoint and why when none answers.
  Status Post(const std::string& path, const std::string& body, std::string* answer);

 private:
  std::vector<std::string> endpoints_;
  int timeout_ms_;
  size_t current_ = 0;
};

}  // namespace pgkeeper

#endif  // PGKEEPER_ETCD_H_

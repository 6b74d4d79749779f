// Config: the node's configuration, parsed from the environment.
//
// ParseConfig is pure: the environment comes in as a map and *_FILE secrets
// are read through a FileReader, so every bad value is unit-tested without
// touching the process environment or the disk.
#ifndef PGKEEPER_CONFIG_H_
#define PGKEEPER_CONFIG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/status.h"
#include "base/values.h"

namespace pgkeeper {

using Env = std::map<std::string, std::string>;
// Reads a whole file into *out, or returns an error naming the path.
using FileReader = std::function<Status(const std::string& path, std::string* out)>;

// TLS (tls.h): the user's files as given (absolute paths; empty: not given).
struct TlsConfig {
  std::string cert_file;  // SSL_CERT_FILE; with key_file, or neither (self-signed)
  std::string key_file;   // SSL_KEY_FILE
  std::string ca_file;    // SSL_CA_FILE: the CA that client certificates must chain to
  bool force = false;     // FORCE_SSL: refuse every connection without TLS
  // REPLICATION_AUTH=cert: replication connections log in with a client
  // certificate signed by SSL_CA_FILE whose CN is the replication user,
  // not with a password (pg_hba method cert).
  bool replication_cert = false;
  // REPLICATION_SSL_CERT_FILE / _KEY_FILE: the client pair a replicant
  // presents to its upstream (sslcert, sslkey).
  std::string client_cert_file, client_key_file;
  // PGKEEPER_TLS=False: no TLS at all, as a server (ssl = off) or towards
  // the upstream (sslmode=disable); refused together with the four above.
  bool enabled = true;
};

// The HTTP API's protection (api_auth.h).
struct ApiSecurity {
  // PGKEEPER_API_TLS=True, or an own pair given: HTTPS instead of HTTP.
  bool tls = false;
  // PGKEEPER_API_CERT_FILE / PGKEEPER_API_KEY_FILE: a pair for the API
  // alone; empty: the pair PostgreSQL serves (self-signed or SSL_CERT_FILE).
  std::string cert_file, key_file;
  std::string user = "pgkeeper";  // PGKEEPER_API_USER
  // PGKEEPER_API_PASSWORD(_FILE). Empty: endpoints that change state
  // (promote, follow, reload) are not served at all.
  std::string password;
};

// Cluster mode (cluster.h): on with ETCD_ENDPOINTS; etcd then chooses the
// master, and REPLICATE_FROM / PROMOTE_MASTER are not given.
struct ClusterConfig {
  std::vector<std::string> endpoints;  // ETCD_ENDPOINTS; empty: not cluster mode
  std::string name = "pgkeeper";       // PGKEEPER_CLUSTER: the key prefix's last part
  // PGKEEPER_ADVERTISE_ADDRESS: how the other nodes reach this node's
  // PostgreSQL, host[:port]; empty: the node's host name and PGPORT.
  std::string address;
  int lease_ttl_seconds = 3;           // PGKEEPER_LEASE_TTL
  int64_t max_lag_bytes = 16 << 20;    // PGKEEPER_FAILOVER_MAX_LAG (bytes)
  bool enabled() const { return !endpoints.empty(); }
};

struct Config {
  // Credentials and objects made on the master.
  std::string superuser = "docker";
  std::string superuser_password;
  std::vector<std::string> databases = {"gis"};
  std::vector<std::string> extensions = {"postgis", "hstore", "postgis_topology",
                                         "postgis_raster", "pgrouting"};
  // Empty means "the node's own attached subnets", resolved at run time.
  std::vector<std::string> allow_ip_ranges;
  // Dedicated replication role; empty means the replicant logs in as superuser.
  std::string replication_user;
  std::string replication_password;

  // Replicant settings. A non-empty replicate_from makes this node a replicant.
  std::string replicate_from;
  int replicate_port = 5432;
  bool destroy_on_restart = true;
  bool promote_master = false;
  // Promote even when the old master is still writable or another replicant
  // has more WAL (promote.h); `pgkeeper promote --force` does the same live.
  bool promote_force = false;
  // The other replicants to ask before a promotion, as host[:port]; empty:
  // the ones the master lists, at their address on this node's PGPORT.
  std::vector<std::string> peers;
  // A node with master or promoted data may become a replicant of
  // REPLICATE_FROM, discarding (with a report) what the new master lacks.
  bool allow_rejoin = false;

  // Where and how PostgreSQL runs.
  std::string pgdata = "/var/lib/postgresql/data";
  int port = 5432;
  std::string listen_addresses = "*";
  std::string run_dir = "/var/run/postgresql";
  std::string pg_bin = "/usr/lib/postgresql/15/bin";
  std::string initdb_dir = "/docker-entrypoint-initdb.d";
  std::string wal_keep_size = "512MB";
  // max_slot_wal_keep_size: what replication slots may hold back at most
  // ("-1": unlimited).
  std::string wal_retain_max = "4GB";
  // The name this node goes by (application_name, slot name); empty: the
  // host name, resolved at run time.
  std::string node_name;
  // HTTP API; port 0 turns it off. Empty listen: the first of listen_addresses.
  int api_port = 8008;
  std::string api_listen;
  // pg_basebackup --max-rate for clones ("" = unlimited), e.g. "50M".
  std::string clone_max_rate;

  // Synchronous replication (sync.h): how many replicants must have a commit
  // before it returns (0: asynchronous), at which level, and whether the
  // requirement is lowered while too few replicants stream.
  int sync_replicants = 0;
  std::string sync_commit = "on";  // on, remote_write or remote_apply
  bool sync_available = false;     // SYNCHRONOUS_MODE=available (default strict)

  TlsConfig tls;
  ApiSecurity api;
  ClusterConfig cluster;

  bool is_replicant() const { return !replicate_from.empty(); }
  // The role and password a replicant uses to stream from its master.
  const std::string& replication_login() const {
    return replication_user.empty() ? superuser : replication_user;
  }
  const std::string& replication_login_password() const {
    return replication_user.empty() ? superuser_password : replication_password;
  }
};

// Fills *config from env. On error returns Status::Config with one line that
// names the variable, what was wrong and what is expected.
Status ParseConfig(const Env& env, const FileReader& read_file, Config* config);

// Looks up a plain variable that may be spelled several ways (the
// preferred name first, then aliases): *out gets its value and *found says
// whether any spelling is set. Two spellings with different values are an
// error naming both.
Status Lookup(const Env& env, const std::vector<std::string>& names, std::string* out, bool* found);

// A whole number written in digits alone (no sign, no spaces), from min to
// max; false otherwise.
bool ParseWholeNumber(const std::string& s, int64_t min, int64_t max, int64_t* out);
// A size in bytes, written as PostgreSQL writes one: digits with an optional
// unit kB, MB, GB or TB (of 1024); a bare number is bytes. False otherwise,
// or when it does not fit in int64_t.
bool ParseSize(const std::string& s, int64_t* bytes);

// Looks up a secret given directly (NAME) or as a file (NAME_FILE), for each
// of names in turn; exactly one form may be set. Trailing newlines of a
// file are dropped. *found says whether any was set.
Status LookupSecret(const Env& env, const std::vector<std::string>& names,
                    const FileReader& read_file, std::string* out, bool* found);

// Parses a boolean the way every boolean variable is parsed:
// True/true/1/yes/on and False/false/0/no/off/empty (case-insensitive).
Status ParseBool(const std::string& name, const std::string& value, bool* out);

// Validates one pg_hba address: an IPv4 or IPv6 CIDR, or samehost/samenet.
bool IsValidHbaAddress(const std::string& value);

// The process environment as a map.
Env EnvFromEnviron(char** envp);

}  // namespace pgkeeper

#endif  // PGKEEPER_CONFIG_H_

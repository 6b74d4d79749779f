// Rendering of the files pgkeeper writes for PostgreSQL. Pure.
#ifndef PGKEEPER_RENDER_H_
#define PGKEEPER_RENDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "postgresql/sync.h"

namespace pgkeeper {

inline constexpr const char kServerConfFile[] = "pgkeeper.conf";
// The replicant's password file, in PGKEEPER_RUN_DIR.
inline constexpr const char kPassFileName[] = "pgpass";
inline constexpr const char kIncludeLine[] = "include_if_exists = 'pgkeeper.conf'";

// An address attached to one of the node's interfaces.
struct InterfaceAddress {
  int family = 0;                  // AF_INET or AF_INET6
  std::vector<uint8_t> address;    // 4 or 16 bytes
  int prefix = 0;                  // netmask length
};

// The networks of the given addresses as CIDRs (host bits cleared), without
// duplicates, in the order seen. Loopback is covered by pg_hba.conf anyway.
std::vector<std::string> NetworksOf(const std::vector<InterfaceAddress>& addrs);

// pg_hba.conf: local connections by peer (mapped to the superuser), loopback
// and the allowed ranges by scram-sha-256, for databases and replication.
std::string RenderHba(const Config& config, const std::vector<std::string>& ranges);
// pg_ident.conf: the OS users allowed to act as the superuser over the socket.
std::string RenderIdent(const Config& config, const std::vector<std::string>& os_users);
// pgkeeper.conf, included from postgresql.conf. primary_conninfo and
// primary_slot_name only when standby is true; the conninfo names the
// password file, never the password. sync: what synchronous_standby_names
// asks for now (sync.h; a standby ignores it until it is promoted).
std::string RenderServerConf(const Config& config, bool standby, const std::string& passfile,
                             const std::string& application_name, const std::string& slot_name,
                             const StandbyList& sync);
// One ~/.pgpass line for host:port:*:user:password, escaped.
std::string RenderPgpass(const std::string& host, int port, const std::string& user,
                         const std::string& password);
// postgresql.conf with the include line appended once.
std::string WithIncludeLine(const std::string& postgresql_conf);

// SQL quoting.
std::string QuoteIdent(const std::string& ident);
std::string QuoteLiteral(const std::string& value);
// A value for a libpq connection string: 'value' with \ and ' escaped.
std::string QuoteConninfo(const std::string& value);

// Application name for a replicant: letters, digits and '_' from the host name.
std::string ApplicationName(const std::string& hostname);

}  // namespace pgkeeper

#endif  // PGKEEPER_RENDER_H_

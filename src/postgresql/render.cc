#include "postgresql/render.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "postgresql/sync.h"
#include "postgresql/tls.h"

namespace pgkeeper {
namespace {
// A string value for postgresql.conf. Its scanner reads '' as a quote and a
// backslash as the start of an escape (\n, \\, ...), so both are escaped;
// QuoteLiteral is for SQL, where a backslash is an ordinary character.
std::string QuoteConfValue(const std::string& value) {
  std::string out = "'";
  for (char ch : value) {
    if (ch == '\'' || ch == '\\') out.push_back(ch);
    out.push_back(ch);
  }
  return out + "'";
}
}  // namespace

std::vector<std::string> NetworksOf(const std::vector<InterfaceAddress>& addrs) {
  std::vector<std::string> out;
  for (const auto& a : addrs) {
    size_t len = a.family == AF_INET ? 4 : a.family == AF_INET6 ? 16 : 0;
    if (len == 0 || a.address.size() != len || a.prefix < 0 ||
        a.prefix > static_cast<int>(len * 8)) {
      continue;
    }
    std::vector<uint8_t> net = a.address;
    for (size_t i = 0; i < len; ++i) {
      int keep = std::clamp(a.prefix - static_cast<int>(i * 8), 0, 8);
      net[i] &= static_cast<uint8_t>(0xff << (8 - keep));
    }
    bool loopback = a.family == AF_INET ? net[0] == 127
                                        : a.prefix == 128 && std::count(net.begin(), net.end() - 1, 0) == 15 && net[15] == 1;
    bool link_local6 = a.family == AF_INET6 && net[0] == 0xfe && (net[1] & 0xc0) == 0x80;
    if (loopback || link_local6) continue;
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(a.family, net.data(), buf, sizeof(buf))) continue;
    std::string cidr = std::string(buf) + "/" + std::to_string(a.prefix);
    if (std::find(out.begin(), out.end(), cidr) == out.end()) out.push_back(cidr);
  }
  return out;
}

std::string RenderHba(const Config& c, const std::vector<std::string>& ranges) {
  std::ostringstream o;
  o << "# Written by pgkeeper at every start from the environment; edits here are lost.\n"
    << "# TYPE  DATABASE     USER  ADDRESS  METHOD\n"
    << "local   all          all            peer map=pgkeeper\n"
    << "local   replication  all            peer map=pgkeeper\n";
  // FORCE_SSL: TCP without TLS is refused by name, before any line could
  // accept it, so the client's error says "no encryption".
  const char* host = c.tls.force ? "hostssl " : "host    ";
  if (c.tls.force) {
    for (const char* any : {"0.0.0.0/0", "::/0"}) {
      o << "hostnossl  all          all  " << any << "  reject\n";
      o << "hostnossl  replication  all  " << any << "  reject\n";
    }
  }
  std::vector<std::string> all = {"127.0.0.1/32", "::1/128"};
  for (const auto& r : ranges) {
    if (std::find(all.begin(), all.end(), r) == all.end()) all.push_back(r);
  }
  for (const auto& r : all) {
    o << host << "all          all   " << r << "  scram-sha-256\n";
    // REPLICATION_AUTH=cert: only TLS with a certificate from SSL_CA_FILE
    // naming the user (its CN) may replicate; no password line at all.
    o << (c.tls.replication_cert ? "hostssl " : host) << "replication  "
      << QuoteIdent(c.replication_login()) << "  " << r
      << (c.tls.replication_cert ? "  cert\n" : "  scram-sha-256\n");
  }
  return o.str();
}

std::string RenderIdent(const Config& c, const std::vector<std::string>& os_users) {
  std::ostringstream o;
  o << "# Written by pgkeeper: OS users that may log in over the Unix socket.\n";
  o << "# MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n";
  std::vector<std::string> seen;
  for (const auto& u : os_users) {
    if (u.empty() || std::find(seen.begin(), seen.end(), u) != seen.end()) continue;
    seen.push_back(u);
    o << "pgkeeper  " << u << "  " << QuoteIdent(c.superuser) << "\n";
    if (!c.replication_user.empty()) {
      o << "pgkeeper  " << u << "  " << QuoteIdent(c.replication_user) << "\n";
    }
    // Lets `psql -U postgres` style tools work when the superuser has another name.
    if (u == "postgres" || u == "root") o << "pgkeeper  " << u << "  " << u << "\n";
  }
  return o.str();
}

std::string RenderServerConf(const Config& c, bool standby, const std::string& passfile,
                             const std::string& application_name, const std::string& slot_name,
                             const StandbyList& sync) {
  std::ostringstream o;
  o << "# Written by pgkeeper at every start from the environment; edits here are lost.\n"
    << "# Settings made with ALTER SYSTEM (postgresql.auto.conf) still take precedence.\n"
    << "listen_addresses = " << QuoteConfValue(c.listen_addresses) << "\n"
    << "port = " << c.port << "\n"
    << "unix_socket_directories = " << QuoteConfValue(c.run_dir) << "\n"
    << "password_encryption = 'scram-sha-256'\n"
    << "wal_level = replica\n"
    << "max_wal_senders = 10\n"
    << "max_replication_slots = 10\n"
    << "wal_keep_size = " << QuoteConfValue(c.wal_keep_size) << "\n"
    << "max_slot_wal_keep_size = " << QuoteConfValue(c.wal_retain_max) << "\n"
    << "hot_standby = on\n"
    << "hot_standby_feedback = on\n"
    << "wal_log_hints = on\n"
    << "synchronous_standby_names = " << QuoteConfValue(StandbyNamesFor(sync)) << "\n"
    << "synchronous_commit = " << c.sync_commit << "\n"
    << "wal_receiver_status_interval = '" << kStatusIntervalSeconds << "s'\n"
    << "ssl = " << (c.tls.enabled ? "on" : "off") << "\n"
    << "ssl_cert_file = " << QuoteConfValue(ServerCertPath(c.pgdata)) << "\n"
    << "ssl_key_file = " << QuoteConfValue(ServerKeyPath(c.pgdata)) << "\n"
    << "ssl_ca_file = " << QuoteConfValue(c.tls.ca_file.empty() ? "" : ServerCaPath(c.pgdata)) << "\n"
    << "ssl_min_protocol_version = 'TLSv1.2'\n"
    << "logging_collector = off\n"
    << "log_destination = 'stderr'\n";
  if (standby) {
    std::string conninfo = "host=" + QuoteConninfo(c.replicate_from) +
                           " port=" + std::to_string(c.replicate_port) +
                           " user=" + QuoteConninfo(c.replication_login()) +
                           " passfile=" + QuoteConninfo(passfile) +
                           " application_name=" + QuoteConninfo(application_name) +
                           " connect_timeout=5" + UpstreamTlsConninfo(c);
    o << "primary_conninfo = " << QuoteConfValue(conninfo) << "\n"
      << "primary_slot_name = " << QuoteConfValue(slot_name) << "\n";
  } else {
    o << "primary_conninfo = ''\n"
      << "primary_slot_name = ''\n";
  }
  return o.str();
}

namespace {
std::string EscapePgpassField(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == ':' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out;
}
}  // namespace

std::string RenderPgpass(const std::string& host, int port, const std::string& user,
                         const std::string& password) {
  return EscapePgpassField(host) + ":" + std::to_string(port) + ":*:" + EscapePgpassField(user) +
         ":" + EscapePgpassField(password) + "\n";
}

std::string WithIncludeLine(const std::string& conf) {
  if (conf.find(kIncludeLine) != std::string::npos) return conf;
  std::string out = conf;
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  out += "\n# Added by pgkeeper: its settings, rewritten at every start.\n";
  out += kIncludeLine;
  out += "\n";
  return out;
}

std::string QuoteIdent(const std::string& ident) {
  std::string out = "\"";
  for (char ch : ident) {
    if (ch == '"') out.push_back('"');
    out.push_back(ch);
  }
  return out + "\"";
}

std::string QuoteLiteral(const std::string& value) {
  std::string out = "'";
  for (char ch : value) {
    if (ch == '\'') out.push_back('\'');
    out.push_back(ch);
  }
  return out + "'";
}

std::string QuoteConninfo(const std::string& value) {
  std::string out = "'";
  for (char ch : value) {
    if (ch == '\'' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out + "'";
}

std::string ApplicationName(const std::string& hostname) {
  std::string out;
  for (char ch : hostname) {
    out.push_back(std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
  }
  if (out.empty()) out = "pgkeeper";
  return out.substr(0, 63);
}

}  // namespace pgkeeper

// Value parsers: the ground floor under config and every file pgkeeper
// reads back. Each turns text into a value exactly once here, so that a
// variable, a command argument and a record in $PGDATA that hold the same
// kind of value get the same verdict. They know no variable names: the
// caller says which variable or file was wrong.
#ifndef PGKEEPER_VALUES_H_
#define PGKEEPER_VALUES_H_

#include <string>
#include <vector>

#include "base/status.h"

namespace pgkeeper {

// s without whitespace at either end.
std::string Trim(const std::string& s);

// A comma-separated list: each item trimmed, empty items dropped.
std::vector<std::string> SplitList(const std::string& value);

// The other way: "a, b, c", or if_empty for no items.
std::string JoinList(const std::vector<std::string>& items, const std::string& if_empty = "");

// True when name is one of names, ignoring case (as PostgreSQL compares a
// standby's application_name with synchronous_standby_names).
bool IsListed(const std::string& name, const std::vector<std::string>& names);

// A host name, an IPv4 address or an IPv6 address (without brackets): the
// characters they are made of, at most 253 of them.
bool IsValidHost(const std::string& s);

// A host and a TCP port.
struct HostPort {
  std::string host;
  int port = 5432;
  std::string Name() const;  // host:port, [v6]:port
  bool operator==(const HostPort& o) const { return host == o.host && port == o.port; }
};

// "HOST", "HOST:PORT", "[IPV6]" or "[IPV6]:PORT"; default_port when none is
// given. A bare IPv6 address ("fd00::1") is refused, since "fd00::1:5433"
// could be either: it is written in brackets. A usage error says why.
Status ParseHostPort(const std::string& text, int default_port, HostPort* out);

}  // namespace pgkeeper

#endif  // PGKEEPER_VALUES_H_

#include "base/values.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace pgkeeper {

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> SplitList(const std::string& value) {
  std::vector<std::string> out;
  std::stringstream ss(value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = Trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string JoinList(const std::vector<std::string>& items, const std::string& if_empty) {
  if (items.empty()) return if_empty;
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

bool IsListed(const std::string& name, const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) {
    return strcasecmp(n.c_str(), name.c_str()) == 0;
  });
}

bool IsValidHost(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '_';
  });
}

std::string HostPort::Name() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Status ParseHostPort(const std::string& text, int default_port, HostPort* out) {
  auto bad = [&](const std::string& why) {
    return Status::Usage("'" + text + "' is not a host and port: " + why +
                         "; expected HOST, HOST:PORT or [IPV6]:PORT");
  };
  std::string host = text;
  std::string port;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string::npos) return bad("no closing ']'");
    std::string rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad("expected ':' after ']'");
      port = rest.substr(1);
      if (port.empty()) return bad("no port after ':'");
    }
  } else if (size_t colon = host.find(':'); colon != std::string::npos) {
    if (host.find(':', colon + 1) != std::string::npos) return bad("write an IPv6 address in []");
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (port.empty()) return bad("no port after ':'");
  }
  if (!IsValidHost(host)) return bad("the host is not a host name or IP address");
  HostPort hp{host, default_port};
  if (!port.empty()) {
    bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                    return std::isdigit(static_cast<unsigned char>(c));
                  });
    if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
      return bad("the port is not a number from 1 to 65535");
    }
    hp.port = std::stoi(port);
  }
  *out = hp;
  return Status::Ok();
}

}  // namespace pgkeeper

// Whom a promotion asks (the network side itself runs in promote-facts).
#include "postgresql/peers.h"

#include <gtest/gtest.h>

namespace pgkeeper {
namespace {

std::vector<std::string> Addresses(const std::vector<Peer>& peers) {
  std::vector<std::string> out;
  for (const auto& p : peers) out.push_back(p.name + "@" + p.address);
  return out;
}

TEST(PeersToAsk, WhatTheMasterListedAtThisNodesPortLeavingThisNodeOut) {
  Config c;
  c.port = 5433;
  PeerList listed{1, "", {Peer{"pg_a", "10.0.0.2"}, Peer{"pg_self", "10.0.0.3"},
                          Peer{"pg_v6", "fd00::4"}, Peer{"pg_local", "local"}}};
  // An IPv6 peer in brackets, which ParseHostPort takes (it refused fd00::4:5433).
  EXPECT_EQ(Addresses(PeersToAsk(c, listed, "pg_self")),
            (std::vector<std::string>{"pg_a@10.0.0.2:5433", "pg_v6@[fd00::4]:5433"}));
  for (const auto& p : PeersToAsk(c, listed, "pg_self")) {
    HostPort at;
    EXPECT_TRUE(ParseHostPort(p.address, 5432, &at).ok()) << p.address;
  }
}

TEST(PeersToAsk, PgkeeperPeersWhenSet) {
  Config c;
  c.peers = {"pg-b", "[fd00::3]:5433"};
  EXPECT_EQ(Addresses(PeersToAsk(c, PeerList{1, "", {Peer{"pg_a", "10.0.0.2"}}}, "x")),
            (std::vector<std::string>{"pg-b@pg-b", "[fd00::3]:5433@[fd00::3]:5433"}));
}

}  // namespace
}  // namespace pgkeeper

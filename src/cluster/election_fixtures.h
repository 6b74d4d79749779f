// A member as the election sees it, for unit tests: name and position, the
// rest defaulted (MemberFacts grows; aggregate braces would leave fields out).
#ifndef PGKEEPER_ELECTION_FIXTURES_H_
#define PGKEEPER_ELECTION_FIXTURES_H_

#include <cstdint>
#include <string>

#include "cluster/election.h"

namespace pgkeeper::fixtures {

inline MemberFacts Member(std::string name, int64_t lsn, bool synchronous = false,
                          bool writable = false, std::string address = "",
                          std::string upstream = "", std::string streaming_from = "") {
  MemberFacts m;
  m.name = std::move(name);
  m.lsn = lsn;
  m.synchronous = synchronous;
  m.writable = writable;
  m.address = std::move(address);
  m.upstream = std::move(upstream);
  m.streaming_from = std::move(streaming_from);
  return m;
}

}  // namespace pgkeeper::fixtures

#endif  // PGKEEPER_ELECTION_FIXTURES_H_

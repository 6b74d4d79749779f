#include "base/status.h"

#include <cstring>

namespace pgkeeper {

Status Status::FromErrno(const std::string& what, int err) {
  return Status(ExitCode::kSystem, what + ": " + std::strerror(err));
}

}  // namespace pgkeeper

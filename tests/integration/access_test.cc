// Who may connect, as a user on another machine meets it: a replicant whose
// address is not in the master's ALLOW_IP_RANGE is refused by pg_hba.conf,
// and the master says which address it saw and the one-line fix (issue 12).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "harness.h"

namespace pgkeeper::testing {
namespace {

// Opens a replication connection to 127.0.0.1:port from the source address
// 127.0.0.2 (outside every range the node allows; loopback allows only
// 127.0.0.1) and returns the server's first answer's text.
std::string ReplicationStartupFrom127002(int port, const std::string& user) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "socket failed";
  sockaddr_in src{}, dst{};
  src.sin_family = dst.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  dst.sin_port = htons(static_cast<uint16_t>(port));
  std::string out;
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    close(fd);
    return std::string("connect failed: ") + std::strerror(errno);
  }
  // StartupMessage, protocol 3.0, as a walreceiver sends it (no TLS).
  std::string body;
  body += std::string("\x00\x03\x00\x00", 4);
  for (const std::string& kv : {std::string("user"), user, std::string("database"),
                                std::string("replication"), std::string("replication"),
                                std::string("true")}) {
    body += kv + '\0';
  }
  body += '\0';
  uint32_t len = htonl(static_cast<uint32_t>(body.size() + 4));
  std::string packet(reinterpret_cast<const char*>(&len), 4);
  packet += body;
  if (write(fd, packet.data(), packet.size()) != static_cast<ssize_t>(packet.size())) {
    close(fd);
    return "write failed";
  }
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n > 0) out.assign(buf, static_cast<size_t>(n));
  for (char& c : out) {
    if (c == '\0') c = ' ';
  }
  return out;
}

TEST(Access, AReplicantOutsideAllowIpRangeIsRefusedAndTheMasterNamesTheAddressItSaw) {
  Scratch scratch;
  Node master(scratch, "master", {{"ALLOW_IP_RANGE", "10.99.0.0/16"}});
  master.Start();
  master.WaitHealthy();
  std::string answer = ReplicationStartupFrom127002(master.port(), master.Env("POSTGRES_USER"));
  EXPECT_NE(answer.find("no pg_hba.conf entry"), std::string::npos) << answer;
  master.WaitLog("refused a replication connection from 127.0.0.2 (user " +
                 master.Env("POSTGRES_USER") + "): 127.0.0.2 is not in ALLOW_IP_RANGE (10.99.0.0/16)");
  EXPECT_TRUE(master.LogContains("set ALLOW_IP_RANGE=10.99.0.0/16,127.0.0.2/32"));
  std::string status;
  ASSERT_EQ(master.Run("status", &status), 0) << status;
  EXPECT_NE(status.find("refused"), std::string::npos) << status;
  EXPECT_NE(status.find("127.0.0.2"), std::string::npos) << status;
  // Said once a minute, not at every retry.
  ReplicationStartupFrom127002(master.port(), master.Env("POSTGRES_USER"));
  auto count = [](const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return count(master.Log(), "FATAL:  no pg_hba.conf entry") >= 2; },
                      seconds(10)))
      << master.Log();
  std::string log = master.Log();
  size_t first = log.find("refused a replication connection");
  EXPECT_EQ(log.find("refused a replication connection", first + 1), std::string::npos) << log;
  master.Stop();
}

}  // namespace
}  // namespace pgkeeper::testing

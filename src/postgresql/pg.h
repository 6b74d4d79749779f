// A thin wrapper over libpq for the few statements pgkeeper runs.
#ifndef PGKEEPER_PG_H_
#define PGKEEPER_PG_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

struct pg_conn;

namespace pgkeeper {

using ConnParams = std::map<std::string, std::string>;

class PgConn {
 public:
  PgConn() = default;
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Connects with keyword/value parameters (never a password in a string
  // that could be logged: errors report libpq's message only).
  Status Connect(const ConnParams& params);
  void Close();
  // Runs a statement that returns no rows we need.
  Status Exec(const std::string& sql);
  // Runs a query and returns the first column of the first row ("" if none).
  Status QueryValue(const std::string& sql, std::string* value);
  // Runs a query and returns all rows as vectors of strings.
  Status QueryRows(const std::string& sql, std::vector<std::vector<std::string>>* rows);
  // A SCRAM-SHA-256 verifier for the password, computed client-side so the
  // clear-text password never travels in a statement.
  Status EncryptPassword(const std::string& user, const std::string& password,
                         std::string* verifier);
  // The connection's OpenSSL SSL*, or nullptr without TLS (tls.cc reads the
  // server's certificate from it).
  void* TlsObject() const;

 private:
  pg_conn* conn_ = nullptr;
};

enum class PingResult { kOk, kRejecting, kNoResponse, kNoAttempt };
PingResult Ping(const ConnParams& params);
// Loads libpq now rather than at the first connection (pg.cc loads it when
// first needed); fails when it cannot be loaded.
Status LoadLibpq();
const char* PingName(PingResult r);

// Parameters for the local server through the Unix socket in run_dir.
// pgkeeper's own commits there (roles, databases, the write that proves a
// promotion) never wait for synchronous replicants: synchronous_commit=local.
ConnParams LocalParams(const std::string& run_dir, int port, const std::string& user,
                       const std::string& dbname);

}  // namespace pgkeeper

#endif  // PGKEEPER_PG_H_

#include "postgresql/pg.h"

#include <libpq-fe.h>

#include "base/dynlib.h"

namespace pgkeeper {
namespace {

// libpq is loaded when first used (dynlib.h): it and the libraries it
// brings (Kerberos, LDAP, SASL and a dozen more) cost every start of the
// binary about 7 ms on a small virtual machine, and commands such as
// `pgkeeper promote`, which only asks the supervisor, never talk to
// PostgreSQL. The functions pgkeeper calls, under their own names:
#define PGK_LIBPQ_FUNCTIONS(X)                                                                    \
  X(PQconnectdbParams)                                                                           \
  X(PQstatus) X(PQerrorMessage) X(PQfinish) X(PQsetNoticeProcessor) X(PQsslStruct) X(PQexec)     \
  X(PQresultStatus) X(PQresultErrorMessage) X(PQntuples) X(PQnfields) X(PQgetvalue) X(PQclear)   \
  X(PQencryptPasswordConn) X(PQfreemem) X(PQpingParams)

PGK_DYNAMIC_LIBRARY(Libpq, Pq, "libpq.so.5", "libpq5", PGK_LIBPQ_FUNCTIONS)

std::string LastLine(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

struct Params {
  std::vector<const char*> keys, values;
  explicit Params(const ConnParams& p) {
    for (const auto& [k, v] : p) {
      keys.push_back(k.c_str());
      values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
  }
};

}  // namespace

PgConn::~PgConn() {
  if (conn_) Pq().PQfinish(conn_);
}

void PgConn::Close() {
  if (conn_) Pq().PQfinish(conn_);
  conn_ = nullptr;
}

Status PgConn::Connect(const ConnParams& params) {
  Close();
  if (!Pq().error.empty()) return Status::Tool(Pq().error);
  Params p(params);
  conn_ = Pq().PQconnectdbParams(p.keys.data(), p.values.data(), 0);
  if (!conn_ || Pq().PQstatus(conn_) != CONNECTION_OK) {
    return Status::Tool("cannot connect to PostgreSQL: " +
                        LastLine(conn_ ? Pq().PQerrorMessage(conn_) : "out of memory"));
  }
  // NOTICEs ("extension already exists, skipping") are not worth a log line.
  Pq().PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  return Status::Ok();
}

void* PgConn::TlsObject() const { return conn_ ? Pq().PQsslStruct(conn_, "OpenSSL") : nullptr; }

Status PgConn::Exec(const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  return QueryRows(sql, &rows);
}

Status PgConn::QueryValue(const std::string& sql, std::string* value) {
  std::vector<std::vector<std::string>> rows;
  PGK_RETURN_IF_ERROR(QueryRows(sql, &rows));
  *value = rows.empty() || rows[0].empty() ? "" : rows[0][0];
  return Status::Ok();
}

Status PgConn::QueryRows(const std::string& sql, std::vector<std::vector<std::string>>* rows) {
  rows->clear();
  if (!conn_) return Status::Tool("not connected to PostgreSQL");
  PGresult* res = Pq().PQexec(conn_, sql.c_str());
  ExecStatusType st = Pq().PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string msg = LastLine(Pq().PQresultErrorMessage(res));
    Pq().PQclear(res);
    return Status::Tool("PostgreSQL refused a statement: " + msg);
  }
  for (int r = 0; r < Pq().PQntuples(res); ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < Pq().PQnfields(res); ++c) row.push_back(Pq().PQgetvalue(res, r, c));
    rows->push_back(std::move(row));
  }
  Pq().PQclear(res);
  return Status::Ok();
}

Status PgConn::EncryptPassword(const std::string& user, const std::string& password,
                               std::string* verifier) {
  if (!conn_) return Status::Tool("not connected to PostgreSQL");
  char* v = Pq().PQencryptPasswordConn(conn_, password.c_str(), user.c_str(), "scram-sha-256");
  if (!v) {
    return Status::Tool("cannot compute password verifier: " +
                        LastLine(Pq().PQerrorMessage(conn_)));
  }
  *verifier = v;
  Pq().PQfreemem(v);
  return Status::Ok();
}

Status LoadLibpq() { return Pq().error.empty() ? Status::Ok() : Status::Tool(Pq().error); }

PingResult Ping(const ConnParams& params) {
  if (!Pq().error.empty()) return PingResult::kNoAttempt;
  Params p(params);
  switch (Pq().PQpingParams(p.keys.data(), p.values.data(), 0)) {
    case PQPING_OK: return PingResult::kOk;
    case PQPING_REJECT: return PingResult::kRejecting;
    case PQPING_NO_RESPONSE: return PingResult::kNoResponse;
    default: return PingResult::kNoAttempt;
  }
}

const char* PingName(PingResult r) {
  switch (r) {
    case PingResult::kOk: return "accepting connections";
    case PingResult::kRejecting: return "rejecting connections (starting up, shutting down or in recovery)";
    case PingResult::kNoResponse: return "no response";
    case PingResult::kNoAttempt: return "bad connection parameters";
  }
  return "?";
}

ConnParams LocalParams(const std::string& run_dir, int port, const std::string& user,
                       const std::string& dbname) {
  return {{"host", run_dir},
          {"port", std::to_string(port)},
          {"user", user},
          {"dbname", dbname},
          {"connect_timeout", "5"},
          {"application_name", "pgkeeper"},
          {"options", "-c synchronous_commit=local"}};
}

}  // namespace pgkeeper

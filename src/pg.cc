#include "pg.h"

#include <libpq-fe.h>

namespace pgkeeper {
namespace {

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
  if (conn_) PQfinish(conn_);
}

void PgConn::Close() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

Status PgConn::Connect(const ConnParams& params) {
  Close();
  Params p(params);
  conn_ = PQconnectdbParams(p.keys.data(), p.values.data(), 0);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    return Status::Tool("cannot connect to PostgreSQL: " +
                        LastLine(conn_ ? PQerrorMessage(conn_) : "out of memory"));
  }
  // NOTICEs ("extension already exists, skipping") are not worth a log line.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  return Status::Ok();
}

void* PgConn::TlsObject() const { return conn_ ? PQsslStruct(conn_, "OpenSSL") : nullptr; }

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
  PGresult* res = PQexec(conn_, sql.c_str());
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string msg = LastLine(PQresultErrorMessage(res));
    PQclear(res);
    return Status::Tool("PostgreSQL refused a statement: " + msg);
  }
  for (int r = 0; r < PQntuples(res); ++r) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(res); ++c) row.push_back(PQgetvalue(res, r, c));
    rows->push_back(std::move(row));
  }
  PQclear(res);
  return Status::Ok();
}

Status PgConn::EncryptPassword(const std::string& user, const std::string& password,
                               std::string* verifier) {
  if (!conn_) return Status::Tool("not connected to PostgreSQL");
  char* v = PQencryptPasswordConn(conn_, password.c_str(), user.c_str(), "scram-sha-256");
  if (!v) return Status::Tool("cannot compute password verifier: " + LastLine(PQerrorMessage(conn_)));
  *verifier = v;
  PQfreemem(v);
  return Status::Ok();
}

PingResult Ping(const ConnParams& params) {
  Params p(params);
  switch (PQpingParams(p.keys.data(), p.values.data(), 0)) {
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

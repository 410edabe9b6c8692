// A throwaway PostgreSQL cluster in a temporary directory, from Debian's `postgresql`
// package: for the store tests and `yantra bench crowd`, which run against a real server.
//
//   auto pg = TempPostgres::start().take();   // initdb + pg_ctl start, a private socket
//   std::string uri = pg->create_database("t1").take();  // postgresql:///t1?host=...
//   // ~TempPostgres: stopped and removed
//
// It listens on a Unix socket in its own directory only (no TCP port to collide on). As
// root it runs as the `postgres` system user, since initdb refuses root.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/base.h"

namespace yantra::crowd {

class TempPostgres {
 public:
  // An error saying to run scripts/setup.sh when the binaries are not installed.
  static Result<std::unique_ptr<TempPostgres>> start();
  // The newest /usr/lib/postgresql/N/bin that has initdb and pg_ctl, if any.
  static std::optional<std::string> bin_dir();
  ~TempPostgres();
  TempPostgres(const TempPostgres&) = delete;
  TempPostgres& operator=(const TempPostgres&) = delete;

  std::string uri(const std::string& database = "postgres") const;
  // Creates an empty database and returns its URI.
  Result<std::string> create_database(const std::string& name);
  const std::string& dir() const { return dir_; }

 private:
  TempPostgres(std::string bin, std::string dir, int port)
      : bin_(std::move(bin)), dir_(std::move(dir)), port_(port) {}
  Result<void> run(const std::string& command, const std::string& what) const;
  std::string as_owner() const;

  std::string bin_, dir_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace yantra::crowd

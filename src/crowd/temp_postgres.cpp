// TempPostgres: initdb and pg_ctl in a private directory, stopped and removed at the end.
#include "crowd/temp_postgres.h"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <pqxx/pqxx>
#include <vector>

namespace yantra::crowd {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPostgresRoot = "/usr/lib/postgresql";
constexpr const char* kSystemUser = "postgres";

// A port number nobody listens on now; it only names the socket file in our directory.
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 5432;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0) ::close(fd);
  return port;
}

std::string tail_of(const std::string& path) {
  auto text = read_file(path);
  if (!text) return "";
  return text->size() > 2000 ? text->substr(text->size() - 2000) : *text;
}

}  // namespace

std::optional<std::string> TempPostgres::bin_dir() {
  std::error_code ec;
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(kPostgresRoot, ec)) {
    fs::path bin = entry.path() / "bin";
    if (fs::exists(bin / "initdb", ec) && fs::exists(bin / "pg_ctl", ec)) found.push_back(bin);
  }
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return std::atoi(a.parent_path().filename().c_str()) <
           std::atoi(b.parent_path().filename().c_str());
  });
  return found.back().string();
}

std::string TempPostgres::as_owner() const {
  return ::geteuid() == 0 ? std::string("runuser -u ") + kSystemUser + " -- " : "";
}

Result<void> TempPostgres::run(const std::string& command, const std::string& what) const {
  int status = std::system(command.c_str());
  if (status == 0) return {};
  std::string log = tail_of(dir_ + "/" + what + ".log");
  return Error{"temporary PostgreSQL in " + dir_ + ": " + what + " failed (status " +
               std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")\n" + log};
}

Result<std::unique_ptr<TempPostgres>> TempPostgres::start() {
  auto bin = bin_dir();
  if (!bin)
    return Error{std::string("PostgreSQL server binaries (initdb, pg_ctl) not found under ") +
                 kPostgresRoot + "; run scripts/setup.sh, which installs Debian's postgresql"};
  std::string pattern = "/tmp/yantra-pg-XXXXXX";  // short: socket paths are limited to 107
  if (!::mkdtemp(pattern.data()))
    return Error{"cannot create a temporary directory under /tmp for PostgreSQL"};
  std::unique_ptr<TempPostgres> pg(new TempPostgres(*bin, pattern, free_port()));
  if (::geteuid() == 0) {
    const passwd* user = ::getpwnam(kSystemUser);
    if (!user)
      return Error{"running as root, PostgreSQL needs the 'postgres' system user, which is "
                   "missing; run scripts/setup.sh"};
    if (::chown(pg->dir_.c_str(), user->pw_uid, user->pw_gid) != 0)
      return Error{"cannot hand " + pg->dir_ + " to the postgres user"};
  }
  const std::string& d = pg->dir_;
  // --no-sync: a throwaway cluster; the server itself still fsyncs every commit.
  auto init = pg->run(pg->as_owner() + pg->bin_ + "/initdb -D " + d + "/data -A trust -U " +
                          kSystemUser + " -E UTF8 --no-sync >" + d + "/initdb.log 2>&1",
                      "initdb");
  if (!init) return init.error();
  auto started = pg->run(pg->as_owner() + pg->bin_ + "/pg_ctl -D " + d + "/data -l " + d +
                             "/server.log -w -t 60 -o \"-k " + d +
                             " -c listen_addresses='' -p " + std::to_string(pg->port_) +
                             " -c max_connections=200\" start >" + d + "/pg_ctl.log 2>&1",
                         "pg_ctl");
  if (!started) return Error{started.error().message + tail_of(d + "/server.log")};
  pg->running_ = true;
  return pg;
}

TempPostgres::~TempPostgres() {
  if (running_)
    std::system((as_owner() + bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop >/dev/null 2>&1")
                    .c_str());
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string TempPostgres::uri(const std::string& database) const {
  return "postgresql:///" + database + "?host=" + dir_ + "&port=" + std::to_string(port_) +
         "&user=" + kSystemUser;
}

Result<std::string> TempPostgres::create_database(const std::string& name) {
  try {
    pqxx::connection c(uri("postgres"));
    pqxx::nontransaction n(c);
    n.exec("CREATE DATABASE " + n.quote_name(name));
  } catch (const std::exception& e) {
    return Error{"temporary PostgreSQL: cannot create database " + name + ": " + e.what()};
  }
  return uri(name);
}

}  // namespace yantra::crowd

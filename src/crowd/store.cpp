// Choosing a store by its connection string, and what both stores share.
#include <charconv>
#include <regex>

#include "crowd/store.h"

namespace yantra::crowd {

std::string redact_connection(const std::string& connection) {
  // postgresql://user:secret@host/db and ...?password=secret
  static const std::regex kUserInfo(R"(^([a-z]+://[^:/@?]*):[^@/?]*@)");
  static const std::regex kParam(R"(([?&]password=)[^&]*)");
  std::string out = std::regex_replace(connection, kUserInfo, "$1:***@");
  return std::regex_replace(out, kParam, "$1***");
}

Result<VersionParts> split_version(const std::string& version) {
  VersionParts p;
  int64_t* parts[] = {&p.major, &p.minor, &p.patch};
  const char* at = version.data();
  const char* end = version.data() + version.size();
  for (size_t i = 0; i < 3; ++i) {
    auto [next, ec] = std::from_chars(at, end, *parts[i]);
    bool separator_ok = i < 2 ? (next != end && *next == '.') : next == end;
    if (ec != std::errc() || next == at || *parts[i] < 0 || !separator_ok)
      return Error{"version '" + version + "' is not MAJOR.MINOR.PATCH (for example 1.2.0)"};
    at = next + 1;
  }
  return p;
}

Result<std::unique_ptr<Store>> open_store(const std::string& connection) {
  if (connection.starts_with("sqlite:")) {
    std::string path = connection.substr(7);
    if (path.empty())
      return Error{"storage 'sqlite:' names no file; use sqlite:PATH, for example "
                   "sqlite:.yantra-cloud/crowd.db"};
    return open_sqlite_store(path);
  }
  if (connection.starts_with("postgresql://") || connection.starts_with("postgres://"))
    return open_postgres_store(connection);
  return Error{"storage '" + redact_connection(connection) +
               "' is neither sqlite:PATH nor a postgresql:// URI; set --storage to one of them"};
}

}  // namespace yantra::crowd

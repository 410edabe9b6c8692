// Library: fingerprints of relied-on functions from the code graph, and invalidation of
// entries whose functions changed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "library/internal.h"
#include "library/library.h"

namespace yantra::library {
namespace {

using nlohmann::json;

std::string hex64(uint64_t h) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

// Lines first..last (1-based, inclusive) of `text`, each with its line ending; the lines
// that exist when the file is shorter than the graph says (it changed since indexing).
std::string_view line_range(std::string_view text, uint32_t first, uint32_t last) {
  size_t begin = 0;
  for (uint32_t line = 1; line < first && begin < text.size(); ++line) {
    size_t nl = text.find('\n', begin);
    begin = nl == text.npos ? text.size() : nl + 1;
  }
  size_t end = begin;
  for (uint32_t line = first; line <= last && end < text.size(); ++line) {
    size_t nl = text.find('\n', end);
    end = nl == text.npos ? text.size() : nl + 1;
  }
  return text.substr(begin, end - begin);
}

struct Pinned {
  int64_t id;
  std::vector<std::string> relies_on;
  std::map<std::string, std::string> fingerprints;
};

}  // namespace

Result<GraphFingerprinter> GraphFingerprinter::open(const std::string& graph_db_path,
                                                    const std::string& repo_root) {
  auto graph = graph::GraphReader::open(graph_db_path);
  if (!graph) return graph.error();
  return GraphFingerprinter(std::move(graph).value(), repo_root);
}

Result<std::optional<std::string>> GraphFingerprinter::fingerprint(std::string_view qname) {
  std::vector<graph::NodeInfo> exact;
  for (graph::NodeInfo& node : graph_.find(qname))
    if (node.qname == qname) exact.push_back(std::move(node));
  if (exact.empty()) return std::optional<std::string>();
  for (const graph::NodeInfo& node : exact)
    if (node.kind == "external") return std::optional<std::string>("external");
  // A name defined more than once (a redefinition) hashes every definition, in order.
  uint64_t h = 0;
  for (const graph::NodeInfo& node : exact) {
    std::string file = root_ + "/" + node.file;
    auto text = read_file(file);
    if (!text) {
      std::error_code ec;
      if (!std::filesystem::exists(file, ec) && !ec) return std::optional<std::string>();
      return Error::in(file, "cannot read it to fingerprint " + std::string(qname) + " (" +
                                 text.error().message + "); fix its permissions and retry");
    }
    uint32_t first = std::max<uint32_t>(node.line, 1);
    uint32_t last = std::max(node.end_line, first);
    h = hash64_combine(h, line_range(*text, first, last));
  }
  return std::optional<std::string>(hex64(h));
}

Result<size_t> Library::invalidate_changed(Fingerprinter& fingerprinter) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  std::vector<Pinned> pinned;
  std::map<std::string, std::optional<std::string>> now;  // every name, fingerprinted once
  {
    Statement q(s.db,
                "SELECT id, relies_on, fingerprints FROM library_entries "
                "WHERE valid = 1 AND relies_on != '[]' ORDER BY id",
                s.path);
    for (;;) {
      auto row = q.step();
      if (!row) return row.error();
      if (!*row) break;
      Pinned p{q.int64(0), {}, {}};
      json relies = json::parse(q.text(1), nullptr, false);
      json prints = json::parse(q.text(2), nullptr, false);
      bool ok = relies.is_array() && prints.is_object();
      if (ok) {
        for (const json& name : relies) {
          ok = ok && name.is_string();
          if (ok) p.relies_on.push_back(name.get<std::string>());
        }
        for (const auto& [name, value] : prints.items()) {
          ok = ok && value.is_string();
          if (ok) p.fingerprints[name] = value.get<std::string>();
        }
      }
      if (!ok)
        return Error::in(s.path, "library entry " + std::to_string(p.id) +
                                     ": relies_on or fingerprints is not valid JSON; delete the "
                                     "entry or the store to start over");
      for (const std::string& name : p.relies_on) now[name];
      pinned.push_back(std::move(p));
    }
  }
  for (auto& [name, fp] : now) {
    auto got = fingerprinter.fingerprint(name);
    if (!got) return got.error();
    fp = std::move(got).value();
  }

  std::vector<std::pair<int64_t, std::string>> invalid;  // id, reason
  for (const Pinned& p : pinned) {
    for (const std::string& name : p.relies_on) {
      const std::optional<std::string>& current = now[name];
      auto stored = p.fingerprints.find(name);
      if (!current) {
        invalid.emplace_back(p.id, name + " is no longer in the code graph");
        break;
      }
      if (stored != p.fingerprints.end() && stored->second != *current) {
        invalid.emplace_back(p.id, name + " changed since this entry was stored");
        break;
      }
    }
  }
  if (invalid.empty()) return size_t{0};

  auto tx = Transaction::begin(s.db, s.path);
  if (!tx) return tx.error();
  size_t changed = 0;
  for (const auto& [id, reason] : invalid) {
    Statement up(s.db,
                 "UPDATE library_entries SET valid = 0, invalid_reason = ? WHERE id = ? AND "
                 "valid = 1",
                 s.path);
    if (auto ok = up.bind(1, reason).bind(2, id).run(); !ok) return ok.error();
    changed += static_cast<size_t>(sqlite3_changes(s.db));
  }
  if (auto ok = tx->commit(); !ok) return ok.error();
  for (const auto& [id, _] : invalid) unindex(s, id);
  return changed;
}

}  // namespace yantra::library

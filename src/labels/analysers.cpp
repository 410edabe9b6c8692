// pyflakes and pylint, run by Debian's /usr/bin/python3 on batches of files, and their
// output read back into findings per file.
//
// Both run in the repository's directory on "./PATH" arguments: no path can read as an
// option. Python runs isolated (-I): PYTHON* variables and the current directory stay off
// sys.path, so a repository's own pyflakes.py or pylint/ is never what runs. pylint gets
// --rcfile=/dev/null: a repository's pylintrc could load plugins or run an init-hook.
#include <algorithm>
#include <array>
#include <atomic>
#include <thread>
#include <unordered_map>

#include "base/process.h"
#include "labels/internal.h"

namespace yantra::labels {
namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr std::string_view kPackages[] = {"pyflakes3", "pylint"};
// Paths per process are bounded in bytes (argv and the environment share ARG_MAX, 2 MiB
// at least on Linux) and in count, so that progress moves and a crash costs little. A
// process costs about 0.1 s (pyflakes) or 1 s (pylint) to start: batches are not smaller
// than they need to be to keep `threads` busy.
constexpr size_t kMaxArgBytes = 96 * 1024;
constexpr size_t kMaxPyflakesBatch = 64;
constexpr size_t kMaxPylintBatch = 256;
constexpr size_t kPylintFilesPerJob = 8;
// pylint's --msg-template: records start with RS and fields end with US, so a path that
// holds newlines or colons still parses; what follows the last US (pylint's "*** Module"
// headers) is dropped.
constexpr std::string_view kPylintTemplate =
    "\x1e{path}\x1f{line}\x1f{symbol}\x1f{confidence.name}\x1f{msg}\x1f";

std::string_view name_of(Analyser a) {
  return kAnalyserNames[static_cast<int>(a)];
}

std::string install_hint(Analyser a) {
  return std::string("install it with `apt-get install ")
      .append(kPackages[static_cast<int>(a)])
      .append("`");
}

std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  size_t nl = text.rfind('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

bool has_traceback(std::string_view err) {
  return err.starts_with("Traceback (most recent call last):") ||
         err.find("\nTraceback (most recent call last):") != std::string_view::npos;
}

std::optional<uint32_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v;
}

// The batch's argument index of the path that `text` starts with, followed by ':'. Paths
// may hold ':' or newlines, so every ':' is tried against the batch's own arguments.
std::optional<size_t> known_path_at(std::string_view text,
                                    const std::unordered_map<std::string_view, size_t>& args,
                                    size_t* path_end) {
  constexpr size_t kLongestPath = 4096;
  for (size_t colon = text.find(':'); colon != std::string_view::npos && colon <= kLongestPath;
       colon = text.find(':', colon + 1)) {
    auto it = args.find(text.substr(0, colon));
    if (it != args.end()) return *path_end = colon, it->second;
  }
  return std::nullopt;
}

// pyflakes prints `PATH:LINE:COL: MESSAGE` per finding on stdout and `PATH:LINE:COL: MESSAGE`
// (then the source line and a caret) or `PATH: MESSAGE` on stderr for a file it could not
// check. Calls `on_record(index, line, message)` per record.
template <class F>
void pyflakes_records(std::string_view text,
                      const std::unordered_map<std::string_view, size_t>& args, F on_record) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t path_end = 0;
    auto index = known_path_at(text.substr(pos), args, &path_end);
    if (!index) {
      size_t nl = text.find('\n', pos);
      pos = nl == std::string_view::npos ? text.size() : nl + 1;
      continue;
    }
    size_t start = pos + path_end + 1;
    size_t nl = text.find('\n', start);
    std::string_view rest =
        text.substr(start, nl == std::string_view::npos ? text.npos : nl - start);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    uint32_t line = 0;
    std::string_view message = rest;
    size_t colon = rest.find(':');
    if (auto n = parse_uint(rest.substr(0, colon)); n && colon != std::string_view::npos) {
      line = *n;
      message = rest.substr(colon + 1);
      size_t col_end = message.find(':');
      if (col_end != std::string_view::npos && parse_uint(message.substr(0, col_end)))
        message = message.substr(col_end + 1);
    }
    while (message.starts_with(' ')) message.remove_prefix(1);
    on_record(*index, line, rest, message);
  }
}

// One process over `paths`; false if it crashed rather than reported (the caller retries
// the files one by one to find the one it cannot take).
bool run_pyflakes_batch(const std::string& root, const std::vector<std::string>& paths,
                        std::vector<FileResult>& results, std::string* crash) {
  std::vector<std::string> argv = {kPython, "-I", "-m", "pyflakes"};
  for (const std::string& p : paths) argv.push_back("./" + p);
  auto run = run_program(argv, {.cwd = root});
  if (!run) return *crash = run.error().message, false;
  if (run->signaled || run->exit_code > 1 || has_traceback(run->err)) {
    *crash = std::string("pyflakes crashed (exit ")
                 .append(std::to_string(run->exit_code))
                 .append("): ")
                 .append(last_line(run->err));
    return false;
  }
  std::unordered_map<std::string_view, size_t> args;
  for (size_t i = 0; i < paths.size(); ++i) {
    args.emplace(argv[4 + i], i);
    results[i] = FileResult{true, "", {}};
  }
  pyflakes_records(
      run->out, args, [&](size_t i, uint32_t line, std::string_view, std::string_view message) {
        auto kind = pyflakes_kind(message);
        if (kind && line > 0)
          results[i].findings.push_back(
              {line, *kind, kPyflakesProbability, Analyser::kPyflakes, std::string(message)});
      });
  pyflakes_records(
      run->err, args, [&](size_t i, uint32_t, std::string_view rest, std::string_view) {
        if (!results[i].ok) return;  // the first message says it
        results[i].ok = false;
        results[i].findings.clear();
        results[i].error =
            std::string("pyflakes: ").append(rest.starts_with(' ') ? rest.substr(1) : rest);
      });
  return true;
}

bool run_pylint_batch(const std::string& root, const std::vector<std::string>& paths, unsigned jobs,
                      std::vector<FileResult>& results, std::string* crash) {
  std::vector<std::string> argv = {kPython,
                                   "-I",
                                   "-m",
                                   "pylint",
                                   "--rcfile=/dev/null",
                                   "--persistent=n",
                                   "--ignore=",
                                   "--ignore-patterns=",
                                   "--disable=all",
                                   "--enable=" + pylint_enabled_symbols(),
                                   "--jobs=" + std::to_string(std::max(1u, jobs)),
                                   "--msg-template=" + std::string(kPylintTemplate),
                                   "--reports=n",
                                   "--score=n"};
  size_t first = argv.size();
  for (const std::string& p : paths) argv.push_back("./" + p);
  auto run = run_program(argv, {.cwd = root});
  if (!run) return *crash = run.error().message, false;
  // pylint's exit status is a bit mask of message categories; 32 is a usage error.
  bool reported_failure = false;
  std::unordered_map<std::string_view, size_t> by_path;
  for (size_t i = 0; i < paths.size(); ++i) {
    by_path.emplace(std::string_view(argv[first + i]).substr(2), i);  // pylint drops "./"
    results[i] = FileResult{true, "", {}};
  }
  std::string_view out = run->out;
  for (size_t rs = out.find('\x1e'); rs != std::string_view::npos;) {
    size_t next = out.find('\x1e', rs + 1);
    std::string_view record =
        out.substr(rs + 1, next == std::string_view::npos ? out.npos : next - rs - 1);
    rs = next;
    std::string_view field[5];
    size_t n = 0;
    for (size_t us; n < 5 && (us = record.find('\x1f')) != std::string_view::npos; ++n)
      field[n] = record.substr(0, us), record.remove_prefix(us + 1);
    if (n < 5) continue;
    auto it = by_path.find(field[0]);
    if (it == by_path.end()) continue;
    FileResult& r = results[it->second];
    uint32_t line = parse_uint(field[1]).value_or(0);
    if (pylint_failure_symbol(field[2])) {
      reported_failure = true;
      if (r.ok) {
        r.ok = false;
        r.error = std::string("pylint: ").append(field[4]);
        if (line > 0) r.error.append(" (line ").append(std::to_string(line)).append(")");
      }
    } else if (auto kind = pylint_kind(field[2]); kind && line > 0) {
      r.findings.push_back(
          {line, *kind, pylint_probability(field[3]), Analyser::kPylint, std::string(field[2])});
    }
  }
  for (FileResult& r : results)
    if (!r.ok) r.findings.clear();
  bool crashed = run->signaled || (run->exit_code & 32) ||
                 (has_traceback(run->err) && run->exit_code == 1 && !reported_failure);
  if (crashed) {
    *crash = std::string("pylint crashed (exit ")
                 .append(std::to_string(run->exit_code))
                 .append("): ")
                 .append(last_line(run->err));
    return false;
  }
  return true;
}

// Consecutive runs of `paths` within the count and argv limits.
std::vector<std::pair<size_t, size_t>> batches(const std::vector<std::string>& paths,
                                               size_t max_count) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t begin = 0, bytes = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    size_t arg = paths[i].size() + 3;
    if (i > begin && (i - begin >= max_count || bytes + arg > kMaxArgBytes))
      out.emplace_back(begin, i), begin = i, bytes = 0;
    bytes += arg;
  }
  if (begin < paths.size()) out.emplace_back(begin, paths.size());
  return out;
}

}  // namespace

Result<std::array<std::string, 2>> analyser_versions(bool pylint) {
  // One quick process: package metadata, not `--version` (pylint takes half a second to
  // import). Python's version is part of each: it decides what parses.
  constexpr const char* kScript =
      "import importlib.metadata as m, importlib.util as u, sys\n"
      "for d in ('pyflakes', 'pylint', 'astroid'):\n"
      "    try:\n"
      "        v = m.version(d) if u.find_spec(d) else '-'\n"
      "    except m.PackageNotFoundError:\n"
      "        v = '-'\n"
      "    print(v)\n"
      "print(sys.version.split()[0])\n";
  auto run = run_program({kPython, "-I", "-c", kScript});
  std::vector<std::string> lines;
  if (run && run->exit_code == 0)
    for (size_t start = 0, nl; (nl = run->out.find('\n', start)) != std::string::npos;
         start = nl + 1)
      lines.push_back(run->out.substr(start, nl - start));
  if (lines.size() != 4)
    return Error{std::string("cannot run ")
                     .append(kPython)
                     .append(" (")
                     .append(run ? last_line(run->err) : run.error().message)
                     .append("); install Python 3 and pyflakes with `apt-get install pyflakes3`")};
  std::array<std::string, 2> versions;
  for (Analyser a : {Analyser::kPyflakes, Analyser::kPylint}) {
    int i = static_cast<int>(a);
    if (a == Analyser::kPylint && !pylint) continue;
    if (lines[i] == "-" || (a == Analyser::kPylint && lines[2] == "-"))
      return Error{std::string(name_of(a))
                       .append(" is not installed for ")
                       .append(kPython)
                       .append("; ")
                       .append(install_hint(a))};
    versions[i] = std::string(name_of(a)).append(" ").append(lines[i]);
    if (a == Analyser::kPylint) versions[i].append("; astroid ").append(lines[2]);
    versions[i].append("; Python ").append(lines[3]);
  }
  return versions;
}

std::vector<FileResult> run_analyser(Analyser analyser, const std::string& root,
                                     const std::vector<std::string>& paths, unsigned threads,
                                     Progress* progress) {
  std::vector<FileResult> results(paths.size());
  threads = std::max(1u, threads);
  bool pylint = analyser == Analyser::kPylint;
  // pyflakes is one process per batch, `threads` at once; pylint spreads one batch over
  // `threads` processes itself (--jobs).
  size_t per_batch =
      pylint ? kMaxPylintBatch
             : std::clamp<size_t>((paths.size() + threads - 1) / threads, 1, kMaxPyflakesBatch);
  auto ranges = batches(paths, per_batch);
  auto run_range = [&](size_t begin, size_t end) {
    std::vector<std::string> part(paths.begin() + static_cast<ptrdiff_t>(begin),
                                  paths.begin() + static_cast<ptrdiff_t>(end));
    std::vector<FileResult> out(part.size());
    std::string crash;
    auto run_one = [&](const std::vector<std::string>& files, std::vector<FileResult>& into) {
      // A pylint worker process costs a second to start: each gets several files.
      unsigned jobs = static_cast<unsigned>(
          std::min<size_t>(threads, (files.size() + kPylintFilesPerJob - 1) / kPylintFilesPerJob));
      return pylint ? run_pylint_batch(root, files, jobs, into, &crash)
                    : run_pyflakes_batch(root, files, into, &crash);
    };
    if (!run_one(part, out)) {
      // Find the file it cannot take: alone, each file fails or reports by itself.
      for (size_t i = 0; i < part.size(); ++i) {
        std::vector<FileResult> one(1);
        if (!run_one({part[i]}, one)) one[0] = FileResult{false, crash, {}};
        out[i] = std::move(one[0]);
      }
    }
    for (size_t i = 0; i < out.size(); ++i) results[begin + i] = std::move(out[i]);
    if (progress) progress->advance(out.size());
  };
  if (pylint) {
    for (auto [begin, end] : ranges) run_range(begin, end);
    return results;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < std::min<size_t>(threads, ranges.size()); ++t)
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < ranges.size();)
        run_range(ranges[i].first, ranges[i].second);
    });
  for (std::thread& w : workers) w.join();
  return results;
}

}  // namespace yantra::labels

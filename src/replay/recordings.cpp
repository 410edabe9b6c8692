// Loading the recorded runs and HumanEval prompts, and finding a prompt in a request.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "replay/internal.h"
#include "replay/replay.h"

namespace yantra::replay {
namespace {

using nlohmann::json;

constexpr size_t kReadChunk = 1 << 16;

// Fields that must never reach the system under test. The parser callback drops them
// before they are stored, so they exist only as bytes of the line being parsed.
bool is_hidden_field(const std::string& key) {
  return key == "test" || key == "canonical_solution" || key == "recorded_result";
}

json parse_without_hidden(std::string_view line) {
  json::parser_callback_t drop = [](int depth, json::parse_event_t event, json& parsed) {
    return !(depth == 1 && event == json::parse_event_t::key && is_hidden_field(parsed));
  };
  return json::parse(line.begin(), line.end(), drop);
}

Result<json> parse_object(const std::string& path, std::string_view line, size_t number) {
  try {
    json j = parse_without_hidden(line);
    if (!j.is_object()) return Error::at(path, number, 1, "expected a JSON object per line");
    return j;
  } catch (const json::exception& e) {
    return Error::at(path, number, 1, std::string("not valid JSON: ").append(e.what()));
  }
}

Result<std::string> string_field(const json& j, const char* key, const std::string& path,
                                 size_t number) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    return Error::at(path, number, 1, std::string("missing string field \"").append(key) + "\"");
  return it->get<std::string>();
}

std::optional<int64_t> optional_count(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0) return std::nullopt;
  return it->get<int64_t>();
}

struct Problems {
  std::vector<std::string> task_ids, prompts, entry_points;
  std::map<std::string, size_t, std::less<>> index;
};

Result<Problems> load_problems(const std::string& path) {
  Problems p;
  auto read = for_each_gz_line(path, [&](std::string_view line, size_t n) -> Result<void> {
    auto j = parse_object(path, line, n);
    if (!j) return j.error();
    auto id = string_field(*j, "task_id", path, n);
    if (!id) return id.error();
    auto prompt = string_field(*j, "prompt", path, n);
    if (!prompt) return prompt.error();
    std::string_view trimmed = trim(*prompt);
    if (trimmed.empty()) return Error::at(path, n, 1, "task " + *id + " has an empty prompt");
    if (!p.index.emplace(*id, p.task_ids.size()).second)
      return Error::at(path, n, 1, "task " + *id + " appears twice");
    p.task_ids.push_back(*id);
    p.prompts.emplace_back(trimmed);
    auto entry = j->find("entry_point");  // only aliases need it, to rename
    p.entry_points.push_back(entry != j->end() && entry->is_string() ? entry->get<std::string>()
                                                                     : std::string());
    return {};
  });
  if (!read) return read.error();
  if (p.task_ids.empty()) return Error::in(path, "no problems in this file");
  return p;
}

struct LoadedRun {
  std::string model;
  size_t task = 0;
  RecordedRun run;
};

Result<LoadedRun> parse_run(const Problems& problems, const std::string& path,
                            const std::string& problems_path, std::string_view line, size_t n) {
  auto j = parse_object(path, line, n);
  if (!j) return j.error();
  LoadedRun out;
  auto model = string_field(*j, "model", path, n);
  if (!model) return model.error();
  auto task = string_field(*j, "task_id", path, n);
  if (!task) return task.error();
  auto code = string_field(*j, "code", path, n);
  if (!code) return code.error();
  auto found = problems.index.find(*task);
  if (found == problems.index.end())
    return Error::at(path, n, 1,
                     "task " + *task + " is not in " + problems_path +
                         "; give the problems file these runs answer with --problems");
  auto run = j->find("run");
  if (run == j->end() || !run->is_number_integer() || run->get<int64_t>() < 1)
    return Error::at(path, n, 1, "missing or invalid \"run\" (a number from 1)");
  auto duration = j->find("duration_s");
  if (duration == j->end() || !duration->is_number() || duration->get<double>() < 0)
    return Error::at(path, n, 1, "missing or invalid \"duration_s\" (seconds, >= 0)");
  out.model = std::move(*model);
  out.task = found->second;
  out.run = {static_cast<int>(run->get<int64_t>()), std::move(*code), duration->get<double>(),
             optional_count(*j, "prompt_tokens"), optional_count(*j, "completion_tokens")};
  return out;
}

// Lays the runs out per (model, task), sorted by run number, refusing duplicates.
Result<void> arrange(Recordings& r, std::vector<LoadedRun>& loaded, const std::string& path) {
  std::set<std::string> models;
  for (const auto& l : loaded) models.insert(l.model);
  r.models.assign(models.begin(), models.end());
  r.runs.assign(r.models.size() * r.task_ids.size(), {});
  for (auto& l : loaded) {
    size_t m = *r.model_index(l.model);
    r.runs[m * r.task_ids.size() + l.task].push_back(std::move(l.run));
  }
  for (size_t m = 0; m < r.models.size(); ++m) {
    for (size_t t = 0; t < r.task_ids.size(); ++t) {
      auto& runs = r.runs[m * r.task_ids.size() + t];
      std::sort(runs.begin(), runs.end(), [](auto& a, auto& b) { return a.run < b.run; });
      for (size_t i = 1; i < runs.size(); ++i) {
        if (runs[i].run == runs[i - 1].run)
          return Error::in(path, "run " + std::to_string(runs[i].run) + " of " + r.models[m] +
                                     " on " + r.task_ids[t] + " appears twice");
      }
    }
  }
  r.run_count = loaded.size();
  return {};
}

}  // namespace

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

std::string default_problems_path(const std::string& runs_path) {
  return (std::filesystem::path(runs_path).parent_path() / "HumanEval-dev.jsonl.gz").string();
}

std::optional<size_t> Recordings::model_index(std::string_view name) const {
  auto it = std::lower_bound(models.begin(), models.end(), name);
  if (it == models.end() || *it != name) return std::nullopt;
  return static_cast<size_t>(it - models.begin());
}

Result<void> for_each_gz_line(const std::string& path,
                              const std::function<Result<void>(std::string_view, size_t)>& line) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) return Error::in(path, std::string("cannot open: ").append(std::strerror(errno)));
  std::string pending, chunk(kReadChunk, '\0');
  size_t number = 0;
  Result<void> status;
  auto emit = [&](std::string_view text) {
    ++number;
    if (!trim(text).empty()) status = line(text, number);
    return status.ok();
  };
  for (;;) {
    int got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got < 0) {
      int code = 0;
      std::string why = gzerror(file, &code);
      gzclose(file);
      return Error::in(path, "cannot read (corrupt gzip?): " + why);
    }
    if (got == 0) break;
    pending.append(chunk.data(), static_cast<size_t>(got));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (!emit(std::string_view(pending).substr(start, nl - start))) break;
    }
    if (!status) break;
    pending.erase(0, start);
  }
  gzclose(file);
  if (status && !pending.empty()) emit(pending);
  return status;
}

Result<Recordings> load_recordings(const std::string& runs_path, const std::string& problems_path) {
  std::string problems_file =
      problems_path.empty() ? default_problems_path(runs_path) : problems_path;
  auto problems = load_problems(problems_file);
  if (!problems) return problems.error();
  std::vector<LoadedRun> loaded;
  auto read = for_each_gz_line(runs_path, [&](std::string_view line, size_t n) -> Result<void> {
    auto run = parse_run(*problems, runs_path, problems_file, line, n);
    if (!run) return run.error();
    loaded.push_back(std::move(*run));
    return {};
  });
  if (!read) return read.error();
  if (loaded.empty()) return Error::in(runs_path, "no recorded runs in this file");
  Recordings r;
  r.task_ids = std::move(problems->task_ids);
  r.prompts = std::move(problems->prompts);
  r.entry_points = std::move(problems->entry_points);
  if (auto ok = arrange(r, loaded, runs_path); !ok) return ok.error();
  return r;
}

}  // namespace yantra::replay

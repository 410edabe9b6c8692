// Aliases: reworded prompts of a recorded task (ReCode's perturbations of HumanEval),
// answered with that task's recorded runs, the recorded function renamed to the name the
// reworded prompt asks for.
#include <algorithm>
#include <cctype>

#include "replay/internal.h"

namespace yantra::replay {
namespace {

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool is_identifier(std::string_view name) {
  return !name.empty() && !std::isdigit(static_cast<unsigned char>(name.front())) &&
         std::all_of(name.begin(), name.end(), is_word_char);
}

// Every prompt the matcher searches: the tasks' own, then the aliases'.
std::vector<std::string> all_prompts(const Recordings& r) {
  std::vector<std::string> prompts = r.prompts;
  for (const Alias& a : r.aliases) prompts.push_back(a.prompt);
  return prompts;
}

}  // namespace

std::string rename_word(std::string_view code, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(code);
  std::string out;
  out.reserve(code.size());
  size_t done = 0;
  for (size_t at = code.find(from); at != std::string_view::npos; at = code.find(from, at + 1)) {
    size_t end = at + from.size();
    bool starts = at == 0 || !is_word_char(code[at - 1]);
    bool ends = end == code.size() || !is_word_char(code[end]);
    if (!starts || !ends || at < done) continue;
    out.append(code.substr(done, at - done)).append(to);
    done = end;
  }
  return out.append(code.substr(done));
}

Result<void> Replayer::add_alias(std::string_view prompt, std::string_view task_id,
                                 std::string_view entry_point) {
  const Recordings& r = recordings_;
  std::string_view text = trim(prompt);
  if (text.empty()) return Error{"replay alias: the prompt is empty"};
  auto task = std::find(r.task_ids.begin(), r.task_ids.end(), task_id);
  if (task == r.task_ids.end())
    return Error{"replay alias: task " + std::string(task_id) + " has no recorded prompt"};
  Alias alias{std::string(text), static_cast<size_t>(task - r.task_ids.begin()),
              std::string(entry_point)};
  const std::string& nominal = r.entry_points[alias.task];
  if (alias.entry_point.empty()) alias.entry_point = nominal;
  if (!alias.entry_point.empty() && !is_identifier(alias.entry_point))
    return Error{"replay alias: '" + alias.entry_point + "' is not a Python identifier"};
  if (alias.entry_point != nominal && nominal.empty())
    return Error{"replay alias: the problems file names no entry_point for " +
                 r.task_ids[alias.task] + ", so its recorded code cannot be renamed to " +
                 alias.entry_point};
  // The same text twice must mean the same thing: a request holds one task's prompt.
  std::vector<std::string> prompts = all_prompts(r);
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i] != alias.prompt) continue;
    bool own = i < r.prompts.size();
    size_t other = own ? i : r.aliases[i - r.prompts.size()].task;
    const std::string& other_entry =
        own ? r.entry_points[i] : r.aliases[i - r.prompts.size()].entry_point;
    if (other == alias.task && other_entry == alias.entry_point) return {};  // already known
    return Error{"replay alias: this prompt already stands for " + r.task_ids[other] + " (" +
                 other_entry + "); it cannot also stand for " + r.task_ids[alias.task] + " (" +
                 alias.entry_point + ")"};
  }
  recordings_.aliases.push_back(std::move(alias));
  matcher_ = PromptMatcher(all_prompts(recordings_));
  return {};
}

std::optional<Replayer::Match> Replayer::match(std::string_view text) const {
  auto found = matcher_.find(text);
  if (!found) return std::nullopt;
  const Recordings& r = recordings_;
  if (*found < r.prompts.size()) return Match{*found, "", ""};
  const Alias& alias = r.aliases[*found - r.prompts.size()];
  const std::string& nominal = r.entry_points[alias.task];
  if (alias.entry_point == nominal) return Match{alias.task, "", ""};
  return Match{alias.task, nominal, alias.entry_point};
}

std::string Replayer::Match::served(const std::string& code) const {
  return rename_to.empty() ? code : rename_word(code, rename_from, rename_to);
}

}  // namespace yantra::replay

// Soft labels from a teacher: {head: {label: probability}}, validated, averaged over
// samples, and refined with token logprobs where the provider sent them.
#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "teacher/internal.h"

namespace yantra::teacher {
namespace {

using nlohmann::json;
using HeadValues = std::map<std::string, double>;
using SampleValues = std::map<std::string, HeadValues>;

// Where a value sits in the reply text: the number for (head, label).
struct NumberSpan {
  std::string head, label;
  size_t begin = 0, end = 0;
};

class Warnings {
 public:
  void add(std::string w) {
    if (seen_.insert(w).second) list_.push_back(std::move(w));
  }
  std::vector<std::string> take() { return std::move(list_); }

 private:
  std::set<std::string> seen_;
  std::vector<std::string> list_;
};

std::optional<double> as_probability(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_number()) return std::clamp(v.get<double>(), 0.0, 1.0);
  if (v.is_string()) {
    static const std::regex kNumber(R"(\s*([0-9]*\.?[0-9]+)\s*(%?)\s*)");
    std::smatch m;
    std::string s = v.get<std::string>();
    if (!std::regex_match(s, m, kNumber)) return std::nullopt;
    double x = std::stod(m[1].str()) / (m[2].length() ? 100.0 : 1.0);
    return std::clamp(x, 0.0, 1.0);
  }
  return std::nullopt;
}

// Reads one head of one sample: unknown labels dropped, missing ones 0.
HeadValues read_head(const json& object, const LabelSet& set, Warnings& warnings) {
  HeadValues values;
  for (const auto& label : set.labels) values[label] = 0.0;
  std::set<std::string> seen;
  for (const auto& [key, v] : object.items()) {
    if (!values.count(key)) {
      warnings.add("unknown label '" + key + "' in head '" + set.head + "' dropped");
      continue;
    }
    auto p = as_probability(v);
    if (!p) {
      warnings.add("non-numeric value for '" + set.head + "." + key + "' read as 0");
      continue;
    }
    values[key] = *p;
    seen.insert(key);
  }
  for (const auto& label : set.labels)
    if (!seen.count(label)) warnings.add("label '" + set.head + "." + label + "' missing: 0");
  return values;
}

void normalise(HeadValues& values) {
  double sum = 0;
  for (const auto& [label, p] : values) sum += p;
  for (auto& [label, p] : values) p = sum > 0 ? p / sum : 1.0 / values.size();
}

// Number spans at depth 2 of a JSON object text ({head: {label: NUMBER}}), offsets
// relative to `text`.
std::vector<NumberSpan> number_spans(std::string_view text) {
  struct Frame {
    bool object;
    std::string key;
  };
  std::vector<Frame> frames;
  std::vector<NumberSpan> spans;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' || c == '[') {
      frames.push_back({c == '{', ""});
    } else if (c == '}' || c == ']') {
      if (!frames.empty()) frames.pop_back();
    } else if (c == '"') {
      size_t end = i + 1;
      while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
      json s = json::parse(text.substr(i, end + 1 - i), nullptr, false);
      size_t next = text.find_first_not_of(" \t\r\n", end + 1);
      if (!frames.empty() && frames.back().object && s.is_string() && next < text.size() &&
          text[next] == ':')
        frames.back().key = s.get<std::string>();
      i = end;
    } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = text.find_first_not_of("+-0123456789.eE", i);
      if (end == std::string_view::npos) end = text.size();
      if (frames.size() == 2 && frames[0].object && frames[1].object)
        spans.push_back({frames[0].key, frames[1].key, i, end});
      i = end - 1;
    }
  }
  return spans;
}

std::optional<double> leading_number(const std::string& s) {
  static const std::regex kLeading(R"(^[0-9]+(\.[0-9]+)?)");
  std::smatch m;
  if (!std::regex_search(s, m, kLeading)) return std::nullopt;
  return std::stod(m.str());
}

// The expectation of a stated "0.d..." over the alternatives the model weighed for the
// token that wrote its tenths digit; nullopt when no alternative applies.
std::optional<double> refine(const std::string& text, const NumberSpan& span, double stated,
                             const std::vector<TokenLogprob>& tokens,
                             const std::vector<size_t>& starts) {
  std::string number = text.substr(span.begin, span.end - span.begin);
  if (number.size() < 3 || number.compare(0, 2, "0.") != 0 ||
      !std::isdigit(static_cast<unsigned char>(number[2])))
    return std::nullopt;
  size_t tenths = span.begin + 2;
  size_t k = std::upper_bound(starts.begin(), starts.end(), tenths) - starts.begin() - 1;
  const TokenLogprob& token = tokens[k];
  if (starts[k] + token.token.size() <= tenths) return std::nullopt;
  std::string prefix, lead;  // number text before the token; reply text before the number
  if (starts[k] >= span.begin)
    prefix = text.substr(span.begin, starts[k] - span.begin);
  else
    lead = text.substr(starts[k], span.begin - starts[k]);
  double total = std::exp(token.logprob), sum = total * stated;
  bool used = false;
  for (const auto& [alt, logprob] : token.top) {
    if (alt == token.token || alt.compare(0, lead.size(), lead) != 0) continue;
    std::string digits = alt.substr(lead.size());
    if (digits.empty() || !std::isdigit(static_cast<unsigned char>(digits[0]))) continue;
    auto value = leading_number(prefix + digits);
    if (!value || *value > 1.0) continue;
    sum += std::exp(logprob) * *value;
    total += std::exp(logprob);
    used = true;
  }
  if (!used || total <= 0) return std::nullopt;
  return sum / total;
}

// Replaces stated values by their logprob expectation where the tokens line up with the
// text; returns how many values were refined.
int refine_sample(const Choice& choice, size_t json_offset, size_t json_length,
                  SampleValues& sample, Warnings& warnings) {
  std::vector<size_t> starts;
  std::string joined;
  for (const auto& t : choice.logprobs) {
    starts.push_back(joined.size());
    joined += t.token;
  }
  if (joined != choice.text) {
    warnings.add("token logprobs do not spell the reply text: stated values used");
    return 0;
  }
  int refined = 0;
  std::string_view object = std::string_view(choice.text).substr(json_offset, json_length);
  for (NumberSpan span : number_spans(object)) {
    span.begin += json_offset;
    span.end += json_offset;
    auto head = sample.find(span.head);
    if (head == sample.end() || !head->second.count(span.label)) continue;
    double& value = head->second[span.label];
    if (auto better = refine(choice.text, span, value, choice.logprobs, starts)) {
      value = std::clamp(*better, 0.0, 1.0);
      ++refined;
    }
  }
  return refined;
}

}  // namespace

std::vector<Message> soft_label_prompt(std::string_view description,
                                       const std::vector<LabelSet>& label_sets) {
  std::string user = "Function:\n" + std::string(description) +
                     "\n\nFor each group below, give the probability (0 to 1) that each label "
                     "applies to this function.\n";
  json example = json::object();
  for (const auto& set : label_sets) {
    user += "- " + set.head + (set.exclusive ? " (exactly one applies; they sum to 1): " : ": ");
    for (size_t i = 0; i < set.labels.size(); ++i) {
      user += (i ? ", " : "") + set.labels[i];
      example[set.head][set.labels[i]] = 0.5;
    }
    user += "\n";
  }
  user +=
      "\nAnswer with one JSON object of exactly this shape, with your probabilities as "
      "decimals like 0.8 in place of 0.5, and nothing else:\n" +
      example.dump();
  return {{"system", "You label Python functions for a code model. You answer with JSON only."},
          {"user", std::move(user)}};
}

Result<SoftLabels> soft_labels(Client& client, const std::string& model,
                               std::string_view description,
                               const std::vector<LabelSet>& label_sets,
                               const SoftLabelOptions& options) {
  const std::string& name = client.config().name;
  if (label_sets.empty()) return Error{name + ": soft_labels needs at least one label set"};
  ChatRequest request;
  request.model = model;
  request.messages = soft_label_prompt(description, label_sets);
  request.n = options.n;
  request.temperature = options.temperature;
  request.max_tokens = options.max_tokens;
  request.top_logprobs = options.top_logprobs;
  auto reply = client.chat(request);
  if (!reply) return reply.error();

  SoftLabels out;
  out.usage = reply->usage;
  Warnings warnings;
  std::map<std::string, std::vector<HeadValues>> per_head;
  for (const Choice& choice : reply->choices) {
    auto where = find_json_object(choice.text);
    if (!where) {
      ++out.rejected_samples;
      continue;
    }
    json object = json::parse(choice.text.substr(where->first, where->second), nullptr, false);
    SampleValues sample;
    for (const auto& set : label_sets) {
      const json* head = json_object(object, set.head.c_str());
      if (head) sample[set.head] = read_head(*head, set, warnings);
    }
    for (const auto& [key, v] : object.items())
      if (std::none_of(label_sets.begin(), label_sets.end(),
                       [&](const LabelSet& s) { return s.head == key; }))
        warnings.add("unknown head '" + key + "' dropped");
    if (sample.empty()) {
      ++out.rejected_samples;
      continue;
    }
    if (!choice.logprobs.empty())
      out.logprob_values += refine_sample(choice, where->first, where->second, sample, warnings);
    for (const auto& set : label_sets) {
      auto it = sample.find(set.head);
      if (it == sample.end()) continue;
      if (set.exclusive) normalise(it->second);
      per_head[set.head].push_back(std::move(it->second));
    }
    ++out.samples;
  }
  if (out.samples == 0)
    return Error{name + " (" + model + "): no usable JSON object in any of the " +
                 std::to_string(reply->choices.size()) + " replies; the first began: '" +
                 one_line(reply->choices.front().text, 160) + "'"};
  for (const auto& set : label_sets) {
    const auto& samples = per_head[set.head];
    if (samples.empty())
      return Error{name + " (" + model + "): no reply gave the head '" + set.head + "'"};
    for (const auto& label : set.labels) {
      double sum = 0;
      for (const auto& s : samples) sum += s.at(label);
      out.probs[set.head][label] = sum / samples.size();
    }
  }
  out.warnings = warnings.take();
  return out;
}

}  // namespace yantra::teacher

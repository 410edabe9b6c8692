// The one table from analyser output to BugKind. pyflakes prints messages (its classes
// are not in its output), so its rows match message text: a prefix and a suffix around the
// %r parts. pylint rows are message symbols, and only they are enabled when it runs.
#include <string>

#include "labels/internal.h"

namespace yantra::labels {
namespace {

struct Rule {
  Analyser analyser;
  std::string_view prefix;  // pyflakes: the message starts with it; pylint: the symbol
  std::string_view suffix;  // pyflakes: ...and ends with it
  BugKind kind;
};

constexpr Rule kRules[] = {
    // pyflakes 2.5 (pyflakes/messages.py)
    {Analyser::kPyflakes, "undefined name ", "", kUndefinedName},
    {Analyser::kPyflakes, "", " imported but unused", kUnusedImport},
    {Analyser::kPyflakes, "local variable ", " is assigned to but never used", kUnusedVariable},
    {Analyser::kPyflakes, "local variable ", " referenced before assignment",
     kUsedBeforeAssignment},
    {Analyser::kPyflakes, "redefinition of unused ", "", kRedefinition},
    {Analyser::kPyflakes, "import ", " shadowed by loop variable", kRedefinition},
    {Analyser::kPyflakes, "use ==/!= to compare constant literals", "", kLiteralComparison},
    {Analyser::kPyflakes, "f-string is missing placeholders", "", kFormatString},
    {Analyser::kPyflakes, "'...'.format(...) ", "", kFormatString},
    {Analyser::kPyflakes, "'...' % ... ", "", kFormatString},
    // pylint 2.16 symbols
    {Analyser::kPylint, "undefined-variable", "", kUndefinedName},
    {Analyser::kPylint, "unused-import", "", kUnusedImport},
    {Analyser::kPylint, "unused-variable", "", kUnusedVariable},
    {Analyser::kPylint, "unused-argument", "", kUnusedArgument},
    {Analyser::kPylint, "redefined-outer-name", "", kRedefinition},
    {Analyser::kPylint, "redefined-builtin", "", kRedefinition},
    {Analyser::kPylint, "bare-except", "", kBroadExcept},
    {Analyser::kPylint, "broad-exception-caught", "", kBroadExcept},
    {Analyser::kPylint, "dangerous-default-value", "", kMutableDefault},
    {Analyser::kPylint, "unreachable", "", kUnreachable},
    {Analyser::kPylint, "used-before-assignment", "", kUsedBeforeAssignment},
    {Analyser::kPylint, "inconsistent-return-statements", "", kInconsistentReturn},
    {Analyser::kPylint, "bad-format-character", "", kFormatString},
    {Analyser::kPylint, "truncated-format-string", "", kFormatString},
    {Analyser::kPylint, "mixed-format-string", "", kFormatString},
    {Analyser::kPylint, "format-needs-mapping", "", kFormatString},
    {Analyser::kPylint, "missing-format-string-key", "", kFormatString},
    {Analyser::kPylint, "too-many-format-args", "", kFormatString},
    {Analyser::kPylint, "too-few-format-args", "", kFormatString},
    {Analyser::kPylint, "bad-string-format-type", "", kFormatString},
    {Analyser::kPylint, "bad-format-string-key", "", kFormatString},
    {Analyser::kPylint, "unused-format-string-key", "", kFormatString},
    {Analyser::kPylint, "bad-format-string", "", kFormatString},
    {Analyser::kPylint, "missing-format-argument-key", "", kFormatString},
    {Analyser::kPylint, "unused-format-string-argument", "", kFormatString},
    {Analyser::kPylint, "format-combined-specification", "", kFormatString},
    {Analyser::kPylint, "missing-format-attribute", "", kFormatString},
    {Analyser::kPylint, "invalid-format-index", "", kFormatString},
    {Analyser::kPylint, "format-string-without-interpolation", "", kFormatString},
    {Analyser::kPylint, "f-string-without-interpolation", "", kFormatString},
    {Analyser::kPylint, "literal-comparison", "", kLiteralComparison},
    {Analyser::kPylint, "singleton-comparison", "", kLiteralComparison},
    {Analyser::kPylint, "cell-var-from-loop", "", kCellVarFromLoop},
    {Analyser::kPylint, "raise-missing-from", "", kRaiseMissingFrom},
    {Analyser::kPylint, "global-statement", "", kGlobalStatement},
    {Analyser::kPylint, "global-variable-not-assigned", "", kGlobalStatement},
};

// pylint's own verdict that it could not read the file: a problem line, not a label.
constexpr std::string_view kPylintFailures[] = {"syntax-error", "fatal", "astroid-error",
                                                "parse-error"};

// pylint's interfaces.py confidence levels.
constexpr std::pair<std::string_view, float> kConfidence[] = {
    {"HIGH", 0.9f},      {"CONTROL_FLOW", 0.8f}, {"INFERENCE", 0.7f}, {"INFERENCE_FAILURE", 0.5f},
    {"UNDEFINED", 0.6f},
};

}  // namespace

std::optional<BugKind> pyflakes_kind(std::string_view message) {
  for (const Rule& r : kRules)
    if (r.analyser == Analyser::kPyflakes && message.starts_with(r.prefix) &&
        message.ends_with(r.suffix) && message.size() >= r.prefix.size() + r.suffix.size())
      return r.kind;
  return std::nullopt;
}

std::optional<BugKind> pylint_kind(std::string_view symbol) {
  for (const Rule& r : kRules)
    if (r.analyser == Analyser::kPylint && r.prefix == symbol) return r.kind;
  return std::nullopt;
}

float pylint_probability(std::string_view confidence) {
  for (auto [name, p] : kConfidence)
    if (name == confidence) return p;
  return 0.6f;  // an unknown level reads as UNDEFINED
}

std::string pylint_enabled_symbols() {
  std::string out;
  for (const Rule& r : kRules)
    if (r.analyser == Analyser::kPylint) out.append(out.empty() ? "" : ",").append(r.prefix);
  for (std::string_view s : kPylintFailures) out.append(",").append(s);
  return out;
}

bool pylint_failure_symbol(std::string_view symbol) {
  for (std::string_view s : kPylintFailures)
    if (s == symbol) return true;
  return false;
}

std::optional<BugKind> bug_kind_from_name(std::string_view name) {
  for (int k = 0; k < kBugKinds; ++k)
    if (kBugKindNames[k] == name) return static_cast<BugKind>(k);
  return std::nullopt;
}

}  // namespace yantra::labels

// The extractor's references: imports (absolute, relative, star, dynamic), names bound by
// assignment, and how a call names its callee.
#include <algorithm>
#include <cstring>

#include "graph/extractor.h"

namespace yantra::graph {

void Extractor::on_import(TSNode node, uint32_t scope) {
  uint32_t n = ts_node_named_child_count(node);
  for (uint32_t i = 0; i < n; ++i) {
    TSNode item = ts_node_named_child(node, i);
    const char* type = ts_node_type(item);
    if (!std::strcmp(type, "dotted_name")) {
      std::string name = dotted_text(item);
      add_import(scope, false, name, "");
      bind_import(scope, first_part(name), first_part(name));
    } else if (!std::strcmp(type, "aliased_import")) {
      std::string name = dotted_text(ts_node_child_by_field_id(item, fields().name));
      TSNode alias = ts_node_child_by_field_id(item, fields().alias);
      add_import(scope, false, name, "");
      if (!ts_node_is_null(alias)) bind_import(scope, std::string(text(alias)), name);
    }
  }
}

void Extractor::on_import_from(TSNode node, uint32_t scope, bool future) {
  std::string base = "__future__";
  TSNode module_node{};
  if (!future) {
    module_node = ts_node_child_by_field_id(node, fields().module_name);
    if (ts_node_is_null(module_node)) return;
    base = module_base(module_node);
  }
  uint32_t n = ts_node_named_child_count(node);
  for (uint32_t i = 0; i < n; ++i) {
    TSNode item = ts_node_named_child(node, i);
    if (!future && ts_node_eq(item, module_node)) continue;
    const char* type = ts_node_type(item);
    if (!std::strcmp(type, "wildcard_import")) {
      add_import(scope, false, base, "");
      if (scope == 0) facts_.scopes[0].stars.push_back(base);
      continue;
    }
    std::string name, bound;
    if (!std::strcmp(type, "dotted_name")) {
      name = bound = dotted_text(item);
    } else if (!std::strcmp(type, "aliased_import")) {
      name = dotted_text(ts_node_child_by_field_id(item, fields().name));
      TSNode alias = ts_node_child_by_field_id(item, fields().alias);
      bound = ts_node_is_null(alias) ? name : std::string(text(alias));
    } else {
      continue;
    }
    std::string full = base.empty() ? name : base + "." + name;
    add_import(scope, true, base, full);
    bind_import(scope, bound, full);
  }
}

// `a.b` or a relative `..a.b`, made absolute against this module's package.
std::string Extractor::module_base(TSNode module_node) const {
  if (std::strcmp(ts_node_type(module_node), "relative_import")) return dotted_text(module_node);
  uint32_t level = 0;
  std::string rest;
  uint32_t n = ts_node_named_child_count(module_node);
  for (uint32_t i = 0; i < n; ++i) {
    TSNode c = ts_node_named_child(module_node, i);
    if (!std::strcmp(ts_node_type(c), "import_prefix"))
      level = static_cast<uint32_t>(std::count(text(c).begin(), text(c).end(), '.'));
    else if (!std::strcmp(ts_node_type(c), "dotted_name"))
      rest = dotted_text(c);
  }
  return resolve_relative(package_, rest, level);
}

std::string Extractor::dotted_text(TSNode dotted) const {
  if (ts_node_is_null(dotted)) return "";
  std::string out;
  uint32_t n = ts_node_named_child_count(dotted);
  for (uint32_t i = 0; i < n; ++i) {
    if (!out.empty()) out += '.';
    out += text(ts_node_named_child(dotted, i));
  }
  return n ? out : std::string(text(dotted));
}

void Extractor::add_import(uint32_t scope, bool is_from, std::string module, std::string full) {
  facts_.imports.push_back({scope, is_from, std::move(module), std::move(full)});
}

void Extractor::bind_import(uint32_t scope, std::string name, std::string target) {
  add_binding(scope, BindingFact::Kind::kImport, std::move(name), std::move(target));
}

// `name = value`: see queries/python.scm for the forms that bind something resolvable.
void Extractor::on_alias(TSNode target, TSNode value, uint32_t scope) {
  std::string name(text(target));
  value = unwrap_parens(value);
  const char* type = ts_node_type(value);
  bool in_function = facts_.scopes[scope].kind == ScopeKind::kFunction;
  if (!std::strcmp(type, "identifier") && !in_function)  // the reference graph's alias rule
    add_binding(scope, BindingFact::Kind::kAlias, name, std::string(text(value)));
  CallFact dotted;
  if (decode_callee(value, dotted) && dotted.kind == CalleeKind::kDotted) {
    add_binding(scope, BindingFact::Kind::kValue, name, join(dotted.parts));
    return;
  }
  if (std::strcmp(type, "call")) return;
  CallFact callee;
  if (!decode_callee(ts_node_child_by_field_id(value, fields().function), callee) ||
      callee.kind != CalleeKind::kDotted)
    return;
  const std::string& fn = callee.parts.back();
  TSNode args = ts_node_child_by_field_id(value, fields().arguments);
  TSNode first = ts_node_is_null(args) ? TSNode{} : ts_node_named_child(args, 0);
  if (fn == "staticmethod" || fn == "classmethod") {
    CallFact wrapped;
    if (!ts_node_is_null(first) && decode_callee(first, wrapped) &&
        wrapped.kind == CalleeKind::kDotted)
      add_binding(scope, BindingFact::Kind::kValue, name, join(wrapped.parts));
  } else if (fn == "import_module" || fn == "import_fresh_module" || fn == "__import__") {
    if (ts_node_is_null(first) || std::strcmp(ts_node_type(first), "string")) return;
    std::string module = python_string_value(text(first));
    add_import(scope, false, module, "");
    add_binding(scope, BindingFact::Kind::kImport, name, std::move(module));
  } else {
    add_binding(scope, BindingFact::Kind::kInstance, name, join(callee.parts));
  }
}

void Extractor::add_binding(uint32_t scope, BindingFact::Kind kind, std::string name,
                            std::string target) {
  BindingFact b;
  b.kind = kind;
  b.name = std::move(name);
  b.target = std::move(target);
  facts_.scopes[scope].bindings.push_back(std::move(b));
}

std::string Extractor::join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out.append(out.empty() ? "" : ".").append(p);
  return out;
}

void Extractor::on_call(TSNode function, uint32_t scope) {
  CallFact call;
  if (!decode_callee(function, call)) {
    facts_.unnamed_calls++;
    return;
  }
  call.scope = scope;
  call.line = line_of(function);
  facts_.calls.push_back(std::move(call));
}

// f / a.b.c / super().m / expr.m; false for callees with no name (f()(), x[0]()).
bool Extractor::decode_callee(TSNode fn, CallFact& out) const {
  fn = unwrap_parens(fn);
  const char* type = ts_node_type(fn);
  if (!std::strcmp(type, "identifier")) {
    out.kind = CalleeKind::kDotted;
    out.parts.emplace_back(text(fn));
    return true;
  }
  if (std::strcmp(type, "attribute")) return false;
  std::vector<std::string> chain;
  TSNode cur = fn;
  while (!std::strcmp(ts_node_type(cur), "attribute")) {
    chain.emplace_back(text(ts_node_child_by_field_id(cur, fields().attribute)));
    cur = unwrap_parens(ts_node_child_by_field_id(cur, fields().object));
    if (ts_node_is_null(cur)) return false;
  }
  if (!std::strcmp(ts_node_type(cur), "identifier")) {
    chain.emplace_back(text(cur));
    std::reverse(chain.begin(), chain.end());
    out.kind = CalleeKind::kDotted;
    out.parts = std::move(chain);
    return true;
  }
  out.kind = chain.size() == 1 && is_super_call(cur) ? CalleeKind::kSuper : CalleeKind::kOther;
  out.parts = {std::move(chain.front())};
  return true;
}

bool Extractor::is_super_call(TSNode n) const {
  if (std::strcmp(ts_node_type(n), "call")) return false;
  TSNode f = ts_node_child_by_field_id(n, fields().function);
  return !ts_node_is_null(f) && !std::strcmp(ts_node_type(f), "identifier") && text(f) == "super";
}

TSNode Extractor::unwrap_parens(TSNode n) {
  while (!ts_node_is_null(n) && !std::strcmp(ts_node_type(n), "parenthesized_expression") &&
         ts_node_named_child_count(n) == 1)
    n = ts_node_named_child(n, 0);
  return n;
}

void Extractor::on_raise(TSNode node, uint32_t scope) {
  ScopeFacts& s = facts_.scopes[scope];
  s.flags |= kFlagRaises;
  std::string_view t = text(node);
  if (t.find("ValueError") != t.npos || t.find("TypeError") != t.npos) s.flags |= kFlagValidation;
}

}  // namespace yantra::graph

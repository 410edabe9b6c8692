; Yantra's view of a Python file: one query, run once per file. Capture names are the
; contract with src/graph/extract.cpp (kCaptureNames there); every capture is assigned to
; the innermost enclosing scope (module, class body, function body) by position.

; ---- scopes -------------------------------------------------------------------------
(function_definition
  name: (identifier) @function.name
  parameters: (parameters) @function.parameters
  body: (block) @function.body) @function

(class_definition
  name: (identifier) @class.name
  body: (block) @class.body) @class

; decorators belong to the definition they wrap
(decorated_definition) @decorated

; ---- imports ------------------------------------------------------------------------
(import_statement) @import
(import_from_statement) @import.from
(future_import_statement) @import.future

; ---- references: calls --------------------------------------------------------------
(call function: (_) @call.function)

; ---- names bound in the enclosing scope (assignment targets, loop variables...) ----
(assignment left: (identifier) @bind)
(augmented_assignment left: (identifier) @bind)
(for_statement left: (identifier) @bind)
(for_in_clause left: (identifier) @bind)
(named_expression name: (identifier) @bind)
(pattern_list (identifier) @bind)
(tuple_pattern (identifier) @bind)
(list_pattern (identifier) @bind)
; `*rest` in a target list (in a parameter list it is the function's own parameter)
(pattern_list (list_splat_pattern (identifier) @bind))
(tuple_pattern (list_splat_pattern (identifier) @bind))
(list_pattern (list_splat_pattern (identifier) @bind))
(as_pattern alias: (as_pattern_target (identifier) @bind))
(as_pattern alias: (as_pattern_target [(tuple (identifier) @bind) (list (identifier) @bind)]))
(except_clause alias: (identifier) @bind)
(delete_statement (identifier) @bind)
(lambda_parameters (identifier) @bind)
(lambda_parameters (default_parameter name: (identifier) @bind))
(lambda_parameters (list_splat_pattern (identifier) @bind))
(lambda_parameters (dictionary_splat_pattern (identifier) @bind))
(global_statement (identifier) @global)
(nonlocal_statement (identifier) @global)

; `name = value` statements that bind a name to something resolvable: another name
; (`alias = f`), a dotted name (`dumps = pyjson.dumps`), a wrapped one
; (`dumps = staticmethod(pyjson.dumps)`), a constructor call (`enc = JSONEncoder()`) or a
; dynamic import with a literal name (`json = importlib.import_module("json")`).
; extract.cpp decodes the value.
(expression_statement
  (assignment left: (identifier) @assign.target right: (_) @assign.value))

; ---- metrics ------------------------------------------------------------------------
; decision points for cyclomatic complexity (McCabe, as radon counts them)
[
  (if_statement)
  (elif_clause)
  (for_statement)
  (while_statement)
  (except_clause)
  (boolean_operator)
  (conditional_expression)
  (for_in_clause)
  (if_clause)
  (case_clause)
  (assert_statement)
] @branch

(raise_statement) @raise
(assert_statement) @assert

; ---- damage ---------------------------------------------------------------------------
(ERROR) @syntax_error

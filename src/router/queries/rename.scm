; What adapt_code (src/router/adapt.cpp) needs to rename a function and its parameters.
; Capture names are the contract with kCaptureNames there. Strings and comments need no
; pattern: they hold no identifier nodes, except f-string interpolations, which are code.

; ---- every name, variable or not ----------------------------------------------------
(identifier) @name

; ---- names that are not variables, never renamed as such ------------------------------
; x.field
(attribute attribute: (identifier) @field)
; case Point(field=0)
(keyword_pattern . (identifier) @field)
; case Color.RED: every part after the first is an attribute
(dotted_name (identifier) . (identifier) @field)
; g(name=1), class C(metaclass=M)
(keyword_argument name: (identifier) @keyword)
; module paths and imported names: renaming them would import something else
[
  (import_statement)
  (import_from_statement)
  (future_import_statement)
] @import

; ---- keyword names in calls of a named function: the callee's parameters --------------
(call
  function: (identifier) @call.function
  arguments: (argument_list
    (keyword_argument name: (identifier) @call.keyword)))

; ---- parameters, with the def or lambda whose parameter list binds them ---------------
; Default values and annotations are not captured: Python evaluates them outside.
(function_definition
  parameters: (parameters
    [
      (identifier) @param
      (default_parameter name: (identifier) @param)
      (typed_default_parameter name: (identifier) @param)
      (typed_parameter
        [
          (identifier) @param
          (list_splat_pattern (identifier) @param)
          (dictionary_splat_pattern (identifier) @param)
        ])
      (list_splat_pattern (identifier) @param)
      (dictionary_splat_pattern (identifier) @param)
    ])) @param.scope

(lambda
  parameters: (lambda_parameters
    [
      (identifier) @param
      (default_parameter name: (identifier) @param)
      (list_splat_pattern (identifier) @param)
      (dictionary_splat_pattern (identifier) @param)
    ])) @param.scope

; ---- names a class body binds: class attributes, not the enclosing scope's names -------
(class_definition
  body: (block
    [
      (function_definition name: (identifier) @class.binds)
      (class_definition name: (identifier) @class.binds)
      (decorated_definition
        definition: [
          (function_definition name: (identifier) @class.binds)
          (class_definition name: (identifier) @class.binds)
        ])
      (expression_statement
        [
          (assignment left: (identifier) @class.binds)
          (assignment left: (pattern_list (identifier) @class.binds))
          (augmented_assignment left: (identifier) @class.binds)
        ])
    ])) @class

; ---- the module's own functions: candidates for `from_name` --------------------------
(module
  (function_definition name: (identifier) @top.name) @top)
(module
  (decorated_definition
    definition: (function_definition name: (identifier) @top.name) @top))

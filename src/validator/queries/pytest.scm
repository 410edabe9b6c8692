; Tests pytest collects from a file, found by the host before anything runs, so a
; candidate that deletes or hides tests cannot shrink the set a pass must complete.
; The names are filtered in suites.cpp (test_*, Test* without __init__).
(module (function_definition name: (identifier) @function))
(module (decorated_definition definition: (function_definition name: (identifier) @function)))
(module (class_definition
  name: (identifier) @class
  body: (block (function_definition name: (identifier) @method))))
(module (class_definition
  name: (identifier) @class
  body: (block (decorated_definition definition: (function_definition name: (identifier) @method)))))
(module (decorated_definition definition: (class_definition
  name: (identifier) @class
  body: (block (function_definition name: (identifier) @method)))))

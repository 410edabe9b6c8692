; What a test's body does, run on one test function (its decorators included) and on the
; decorators of the class that holds it (src/labels/test_kinds.cpp).
;
; Capture names are the contract with kTestKindNames in labels.h: a match sets the kind it
; names. Captures starting with `_` only feed predicates. Tree-sitter's C API leaves
; predicates to the caller; test_kinds.cpp evaluates #eq?, #not-eq?, #match?, #not-match?
; (ECMAScript regular expressions, searched in the node's text) and #any-of?; a capture
; must satisfy them with every node it holds.
;
; Arguments count only when given to a call that is not an assertion or a builtin the
; test uses to inspect results: `assertEqual(f(x), [])` passes [] to assertEqual, which is
; the expected value, not an input of the function under test.
;
; Fixture parameters of the test function and setUp / setUpClass are found in C++ (they
; need the parameter list and the class), not here.
;
; `@_target` aims a match's kinds at one callee: `f([])` gives an empty input to f, not to
; the other functions the test calls. Labels give aimed kinds only to the tested functions
; of that name (test_kinds.cpp); a match without a target counts for every one of them.

; ---- empty_input: "", [], {}, (), set(), list()... as an argument ----------------------
((call
   function: (_) @_target
   arguments: (argument_list [(string) (list) (dictionary) (tuple) (call)] @empty_input))
 (#match? @empty_input "^([rRbBuUfF]{0,2}(''|\"\"|''''''|\"\"\"\"\"\")|\\[\\s*\\]|\\{\\s*\\}|\\(\\s*\\)|(set|list|dict|tuple|str|bytes|bytearray|frozenset)\\(\\s*\\))$")
 (#not-match? @_target "(^|\\.)(assert\\w*|fail\\w*|len|isinstance|print|repr|str|type|sorted|getattr|hasattr|setattr|join|append|extend|subTest|raises|warns|approx|parametrize)$"))
((call
   function: (_) @_target
   arguments: (argument_list
     (keyword_argument value: [(string) (list) (dictionary) (tuple) (call)] @empty_input)))
 (#match? @empty_input "^([rRbBuUfF]{0,2}(''|\"\"|''''''|\"\"\"\"\"\")|\\[\\s*\\]|\\{\\s*\\}|\\(\\s*\\)|(set|list|dict|tuple|str|bytes|bytearray|frozenset)\\(\\s*\\))$")
 (#not-match? @_target "(^|\\.)(assert\\w*|fail\\w*|print|subTest|raises|warns|approx|parametrize)$"))

; ---- none_input: None as an argument --------------------------------------------------
((call
   function: (_) @_target
   arguments: (argument_list [(none) (keyword_argument value: (none))] @none_input))
 (#not-match? @_target "(^|\\.)(assert\\w*|fail\\w*|print|isinstance|getattr|setattr|subTest|raises|warns|approx|parametrize|patch|object)$"))

; ---- boundary: 0, -1, 1, sys.maxsize, float('inf'), nan... as an argument --------------
((call
   function: (_) @_target
   arguments: (argument_list
     [(integer) (float) (unary_operator) (attribute) (call) (binary_operator)] @boundary))
 (#match? @boundary "^(-\\s*)?(0|1|0\\.0|1\\.0|0[xX]0|sys\\.maxsize|math\\.(inf|nan)|float\\(\\s*['\"][-+]?(inf|infinity|nan)['\"]\\s*\\)|2\\s*\\*\\*\\s*(31|32|63|64)(\\s*-\\s*1)?|sys\\.float_info\\.(max|min|epsilon))$")
 (#not-match? @_target "(^|\\.)(assert\\w*|fail\\w*|print|range|len|isinstance|round|getattr|subTest|raises|warns|approx|sleep|exit|parametrize)$"))

; ---- values given through @pytest.mark.parametrize reach the function as arguments ----
; (a list of values, or of tuples of values)
((decorator
   (call
     function: (_) @_parametrize
     arguments: (argument_list (list [(string) (list) (dictionary) (tuple) (call)] @empty_input))))
 (#match? @_parametrize "(^|\\.)parametrize$")
 (#match? @empty_input "^([rRbBuUfF]{0,2}(''|\"\"|''''''|\"\"\"\"\"\")|\\[\\s*\\]|\\{\\s*\\}|\\(\\s*\\)|(set|list|dict|tuple|str|bytes|bytearray|frozenset)\\(\\s*\\))$"))
((decorator
   (call
     function: (_) @_parametrize
     arguments: (argument_list (list (tuple [(string) (list) (dictionary) (tuple) (call)] @empty_input)))))
 (#match? @_parametrize "(^|\\.)parametrize$")
 (#match? @empty_input "^([rRbBuUfF]{0,2}(''|\"\"|''''''|\"\"\"\"\"\")|\\[\\s*\\]|\\{\\s*\\}|\\(\\s*\\)|(set|list|dict|tuple|str|bytes|bytearray|frozenset)\\(\\s*\\))$"))
((decorator
   (call
     function: (_) @_parametrize
     arguments: (argument_list (list [(none) @none_input (tuple (none) @none_input)]))))
 (#match? @_parametrize "(^|\\.)parametrize$"))
((decorator
   (call
     function: (_) @_parametrize
     arguments: (argument_list (list [(integer) (float) (unary_operator) (attribute) (call) (binary_operator)] @boundary))))
 (#match? @_parametrize "(^|\\.)parametrize$")
 (#match? @boundary "^(-\\s*)?(0|1|0\\.0|1\\.0|0[xX]0|sys\\.maxsize|math\\.(inf|nan)|float\\(\\s*['\"][-+]?(inf|infinity|nan)['\"]\\s*\\)|2\\s*\\*\\*\\s*(31|32|63|64)(\\s*-\\s*1)?|sys\\.float_info\\.(max|min|epsilon))$"))
((decorator
   (call
     function: (_) @_parametrize
     arguments: (argument_list (list (tuple [(integer) (float) (unary_operator) (attribute) (call) (binary_operator)] @boundary)))))
 (#match? @_parametrize "(^|\\.)parametrize$")
 (#match? @boundary "^(-\\s*)?(0|1|0\\.0|1\\.0|0[xX]0|sys\\.maxsize|math\\.(inf|nan)|float\\(\\s*['\"][-+]?(inf|infinity|nan)['\"]\\s*\\)|2\\s*\\*\\*\\s*(31|32|63|64)(\\s*-\\s*1)?|sys\\.float_info\\.(max|min|epsilon))$"))

; ---- exception: pytest.raises, assertRaises(Regex) ------------------------------------
; aimed: the callable given to it, or what the block under it calls
((call
   function: (_) @_raises
   arguments: (argument_list . (_) . [(identifier) (attribute)] @_target)) @exception
 (#match? @_raises "(^|\\.)(raises|assertRaises)$"))
((call
   function: (_) @_raises
   arguments: (argument_list . (_) . (_) . [(identifier) (attribute)] @_target)) @exception
 (#match? @_raises "(^|\\.)assertRaisesRegexp?$"))
((call
   function: (_) @_raises
   arguments: (argument_list (lambda body: (call function: (_) @_target)))) @exception
 (#match? @_raises "(^|\\.)(raises|assertRaises|assertRaisesRegexp?)$"))
((with_statement
   (with_clause
     (with_item value: [(call function: (_) @_raises) (as_pattern (call function: (_) @_raises))]))
   body: (block
     (expression_statement
       [(call function: (_) @_target)
        (assignment right: (call function: (_) @_target))
        (await (call function: (_) @_target))]))) @exception
 (#match? @_raises "(^|\\.)(raises|assertRaises|assertRaisesRegexp?)$")
 (#not-match? @_target "(^|\\.)(assert\\w*|fail\\w*|print)$"))
; unaimed (the callable is built elsewhere): every tested function
((identifier) @exception
 (#any-of? @exception "raises" "assertRaises" "assertRaisesRegex" "assertRaisesRegexp"))

; ---- large_input: range(1000+), repetition by 1000+, 10**3+, 2**10+ --------------------
((call
   function: (identifier) @_range
   arguments: (argument_list (integer) @large_input))
 (#eq? @_range "range")
 (#match? @large_input "^[1-9][0-9_]{3,}$"))
((binary_operator
   operator: "*"
   right: (integer) @large_input)
 (#match? @large_input "^[1-9][0-9_]{3,}$"))
((binary_operator
   left: (integer) @large_input
   operator: "*")
 (#match? @large_input "^[1-9][0-9_]{3,}$"))
((binary_operator
   left: (integer) @_base
   operator: "**"
   right: (integer) @_exponent) @large_input
 (#eq? @_base "10")
 (#match? @_exponent "^([3-9]|[1-9][0-9]+)$"))
((binary_operator
   left: (integer) @_base
   operator: "**"
   right: (integer) @_exponent) @large_input
 (#eq? @_base "2")
 (#match? @_exponent "^[1-9][0-9]+$"))

; ---- needs_mock: unittest.mock, mock.patch, MagicMock, monkeypatch, pytest-mock --------
((identifier) @needs_mock
 (#any-of? @needs_mock "mock" "patch" "Mock" "MagicMock" "AsyncMock" "NonCallableMock"
   "PropertyMock" "create_autospec" "monkeypatch" "mocker"))

; ---- needs_fixture: @pytest.mark.usefixtures, request.getfixturevalue ------------------
((identifier) @needs_fixture
 (#any-of? @needs_fixture "usefixtures" "getfixturevalue"))

; ---- float_tolerance: pytest.approx, assertAlmostEqual, math.isclose -------------------
((identifier) @float_tolerance
 (#any-of? @float_tolerance "approx" "assertAlmostEqual" "assertAlmostEquals"
   "assertNotAlmostEqual" "isclose" "allclose" "assert_allclose" "assert_almost_equal"
   "assert_approx_equal"))

; ---- warning: pytest.warns, assertWarns(Regex), deprecated_call, catch_warnings --------
((identifier) @warning
 (#any-of? @warning "warns" "assertWarns" "assertWarnsRegex" "deprecated_call"
   "catch_warnings" "recwarn"))

; ---- temp_files: tmp_path, tempfile, TemporaryDirectory, os_helper.TESTFN --------------
((identifier) @temp_files
 (#any-of? @temp_files "tmp_path" "tmpdir" "tmp_path_factory" "tmpdir_factory" "tempfile"
   "TemporaryDirectory" "NamedTemporaryFile" "TemporaryFile" "SpooledTemporaryFile" "mkdtemp"
   "mkstemp" "TESTFN" "TESTFN_ASCII" "TESTFN_UNICODE" "TESTFN_NONASCII" "TESTFN_UNENCODABLE"
   "TESTFN_UNDECODABLE" "temp_dir" "temp_cwd" "create_empty_file"))

; ---- parametrized: pytest.mark.parametrize, subTest ------------------------------------
((identifier) @parametrized
 (#any-of? @parametrized "parametrize" "subTest" "parameterized"))

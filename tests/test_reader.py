"""Tests of the reader (``myia_sx.reader``) and of structural equality of forms.

Every expected value below is worked out by hand from DESIGN.md section 2 and
the reader's documented rules, not copied from the reader's output.
"""

from __future__ import annotations

import math

import pytest

from myia_sx.errors import SxSyntaxError
from myia_sx.forms import Form, Keyword, Span, Symbol, Vec, form_eq
from myia_sx.printer import dumps
from myia_sx.reader import parse_number, read, read_one

from conftest import F, V  # noqa: E402

S = Symbol
K = Keyword


def read_error(text: str, filename: str = "<string>") -> SxSyntaxError:
    with pytest.raises(SxSyntaxError) as info:
        read(text, filename)
    return info.value


def assert_error(text, line, col, *fragments, end_col=None):
    """Reading ``text`` fails at ``line:col`` with every fragment in the message."""
    err = read_error(text)
    assert (err.span.line, err.span.col) == (line, col), str(err)
    if end_col is not None:
        assert (err.span.end_line, err.span.end_col) == (line, end_col), err.span
    assert str(err).startswith(f"<string>:{line}:{col}: "), str(err)
    for frag in fragments:
        assert frag in err.message, (frag, err.message)
    return err


def span_tuple(x):
    s = x.span
    return (s.line, s.col, s.end_line, s.end_col)


def same_atom(a, b):
    """Exact equality of atoms: type, value, sign of zero, NaN."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


# --------------------------------------------------------------------------
# 1. Numbers, symbols, booleans, keywords


@pytest.mark.parametrize("text, value", [
    ("42", 42),
    ("-7", -7),
    ("+5", 5),
    ("0", 0),
    ("-0", 0),
    ("00", 0),
    ("0x1F", 31),
    ("0X1f", 31),
    ("-0x1F", -31),
    ("0o17", 15),
    ("0b101", 5),
    ("-0b11", -3),
    ("1_000", 1000),
    ("1_000_000", 1000000),
    ("0xff_ff", 65535),
    ("9223372036854775807", 2 ** 63 - 1),
    ("-9223372036854775808", -2 ** 63),
    ("0x7fff_ffff_ffff_ffff", 2 ** 63 - 1),
    ("-0x8000000000000000", -2 ** 63),
    ("0o777777777777777777777", 2 ** 63 - 1),
    ("-0b1" + "0" * 63, -2 ** 63),
    ("0_" * 5000 + "0", 0),
    ("0x" + "0" * 40 + "1", 1),
])
def test_integers(text, value):
    got = read_one(text)
    assert type(got) is int
    assert got == value
    assert parse_number(text) == value


@pytest.mark.parametrize("text, value", [
    ("1.0", 1.0),
    ("-2.5e-3", -0.0025),
    ("1e3", 1000.0),
    ("1E3", 1000.0),
    ("1e+3", 1000.0),
    ("1.", 1.0),
    (".5", 0.5),
    ("-.5", -0.5),
    ("+.5", 0.5),
    ("1.e2", 100.0),
    ("1_000.5", 1000.5),
    ("0.0", 0.0),
    ("-0.0", -0.0),
    ("0e0", 0.0),
    ("Inf", math.inf),
    ("+Inf", math.inf),
    ("-Inf", -math.inf),
    ("1e400", math.inf),
    ("5e-324", 5e-324),
])
def test_floats(text, value):
    got = read_one(text)
    assert same_atom(got, value), (text, got)


def test_negative_zero_keeps_its_sign():
    assert math.copysign(1.0, read_one("-0.0")) == -1.0
    assert math.copysign(1.0, read_one("0.0")) == 1.0


def test_nan():
    got = read_one("NaN")
    assert type(got) is float and math.isnan(got)


def test_number_vs_symbol_classification():
    assert parse_number("x") is None
    assert parse_number("-") is None
    assert parse_number("nan") is None  # lower-case: a symbol, as in Hy
    assert parse_number("inf") is None


@pytest.mark.parametrize("text", [
    "-", "->", "+", "*", "/", "@", "<=", "!=", "-x", "+x", "sum-tree", "tuple?",
    "&rest", "x1", "w_2", "_1", "f-0", "nan", "inf", "INF", "a:b", "a#b", "λ", "...", ".",
    "--1", "+-1",
])
def test_symbols(text):
    got = read_one(text)
    assert type(got) is Symbol
    assert got.name == text


def test_booleans_and_none_are_python_values():
    forms = read("True False None")
    assert forms == (True, False, None)
    assert forms[0] is True and forms[1] is False and forms[2] is None
    # not symbols, and True is not the integer 1
    assert read("(f True)")[0] != F(S("f"), 1)


def test_keywords():
    assert read_one(":axis") == K("axis")
    assert type(read_one(":axis")) is Keyword
    assert read_one(":keep-dims") == K("keep-dims")
    assert read_one(":1") == K("1")
    assert read_one(":True") == K("True")
    assert read_one(":a.b") == K("a.b")  # a keyword is never a dotted name
    assert read_one(":axis") != S("axis")
    assert read_one(":axis") != S(":axis")


@pytest.mark.parametrize("text, col, fragment", [
    (":", 1, "malformed keyword"),
    ("(f ::a)", 4, "malformed keyword"),
])
def test_malformed_keywords(text, col, fragment):
    assert_error(text, 1, col, fragment)


@pytest.mark.parametrize("text, line, col, end_col, fragments", [
    ("1f", 1, 1, 3, ["malformed number 1f"]),
    ("(g 1.0.0)", 1, 4, 9, ["malformed number 1.0.0"]),
    ("x\n  1e", 2, 3, 5, ["malformed number 1e"]),
    ("1.5e", 1, 1, 5, ["malformed number 1.5e"]),
    ("(a b 007)", 1, 6, 9, ["malformed number 007", "leading zeros"]),
    ("[1,000]", 1, 2, 7, ["1,000", "Hy-only", "comma"]),
    ("(* 2 1j)", 1, 6, 8, ["1j", "complex", "Hy-only"]),
    ("(* 2\n     1.5J)", 2, 6, 10, ["complex", "Hy-only"]),
    ("1__0", 1, 1, 5, ["malformed number"]),
    ("1_", 1, 1, 3, ["malformed number"]),
    ("0x", 1, 1, 3, ["malformed number"]),
    ("0o8", 1, 1, 4, ["malformed number"]),
    ("2x", 1, 1, 3, ["malformed number 2x"]),
    ("1-2", 1, 1, 4, ["malformed number"]),
    ("-1a", 1, 1, 4, ["malformed number"]),
    # Spellings Hy reads as numbers but that do not start like one of ours:
    # reading them as symbols would break "what both readers accept reads to
    # the same tree", so they are errors too.
    ("-NaN", 1, 1, 5, ["malformed number -NaN", "Hy"]),
    ("+NaN", 1, 1, 5, ["malformed number"]),
    ("Infinity", 1, 1, 9, ["malformed number"]),
    ("(f -Infinity)", 1, 4, 13, ["malformed number"]),
    ("Inf_", 1, 1, 5, ["malformed number"]),
    ("-_1", 1, 1, 4, ["malformed number"]),
    ("+,5", 1, 1, 4, ["malformed number"]),
    ("\u0663", 1, 1, 2, ["malformed number"]),  # ARABIC-INDIC DIGIT THREE
    ("NaNj", 1, 1, 5, ["malformed number"]),
    ("+,0x1", 1, 1, 6, ["malformed number"]),  # Hy: int("+0x1", 0) == 1
    # the imaginary unit with a sign or separators is a complex number to Hy
    ("(f -j)", 1, 4, 6, ["complex literals (-j)", "Hy-only"]),
    ("+J", 1, 1, 3, ["complex", "Hy-only"]),
    ("j_", 1, 1, 3, ["complex", "Hy-only"]),
    ("+_j", 1, 1, 4, ["complex", "Hy-only"]),
])
def test_malformed_numbers(text, line, col, end_col, fragments):
    assert_error(text, line, col, *fragments, end_col=end_col)


@pytest.mark.parametrize("text", [
    "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
    "0x8000000000000000", "-0x8000000000000001", "0xffff_ffff_ffff_ffff",
    "0o1000000000000000000000", "0b1" + "0" * 63, "1" * 5000, "0x" + "f" * 5000,
])
def test_integers_outside_i64_are_errors(text):
    # integers are i64: a literal that does not fit is an error at its token
    # (not a value that wraps around later), however many digits it has
    err = assert_error(f"(f\n  {text})", 2, 3, "does not fit in i64", end_col=3 + len(text))
    with pytest.raises(ValueError, match="does not fit in i64"):
        parse_number(text)
    assert str(2 ** 63 - 1) in err.message


@pytest.mark.parametrize("text", ["j", "J", "_j", "j_1", "jx", "-jx"])
def test_symbols_near_the_imaginary_unit(text):
    assert read(text) == (Symbol(text),)


def test_malformed_number_is_an_error_not_a_symbol():
    with pytest.raises(ValueError):
        parse_number("1f")
    with pytest.raises(ValueError, match="Hy-only"):
        parse_number("1,000")
    with pytest.raises(ValueError, match="Hy-only"):
        parse_number("1j")


# --------------------------------------------------------------------------
# 2. Strings


@pytest.mark.parametrize("source, value", [
    (r'""', ""),
    (r'"abc"', "abc"),
    (r'"a\nb"', "a\nb"),
    (r'"\t"', "\t"),
    (r'"\r"', "\r"),
    (r'"\\"', "\\"),
    (r'"say \"hi\""', 'say "hi"'),
    (r'"\'"', "'"),
    (r'"\a\b\f\v"', "\x07\x08\x0c\x0b"),
    (r'"\x41"', "A"),
    (r'"\x7f"', "\x7f"),
    (r'"\u00e9"', "\u00e9"),
    (r'"\U0001F600"', "\U0001F600"),
    (r'"\N{GREEK SMALL LETTER ALPHA}"', "\u03b1"),
    (r'"\N{EM DASH}!"', "\u2014!"),
    (r'"\101"', "A"),
    (r'"\0"', "\x00"),
    (r'"\ud800"', "\ud800"),
    ('"h\u00e9llo \U0001F600"', "h\u00e9llo \U0001F600"),
    ('"a\\\nb"', "ab"),  # backslash-newline continues the line
    ('"x;y(z)[w]\'`~"', "x;y(z)[w]'`~"),  # no comments or brackets inside strings
])
def test_string_escapes(source, value):
    got = read_one(source)
    assert type(got) is str
    assert got == value


def test_multiline_string_positions():
    text = '(f "line1\nline2\n  line3" x)\n(g y)'
    f, g = read(text)
    assert f == F(S("f"), "line1\nline2\n  line3", S("x"))
    # line 3 is `  line3" x)`: x is the 10th character, ')' the 11th
    assert span_tuple(f.items[2]) == (3, 10, 3, 11)
    assert span_tuple(f) == (1, 1, 3, 12)
    assert span_tuple(g) == (4, 1, 4, 6)
    assert span_tuple(g.items[1]) == (4, 4, 4, 5)


def test_raw_line_breaks_in_strings_are_newlines():
    # as Hy reads them, and as read_file's universal newlines give
    assert read_one('"a\r\nb"') == "a\nb"
    assert read_one('"a\rb"') == "a\nb"
    assert read_one('"a\\\r\nb"') == "ab"  # backslash + CRLF continues the line
    assert read_one(r'"a\rb"') == "a\rb"  # the escape is still a carriage return


def test_string_then_error_reports_correct_line():
    err = assert_error('"a\nb\nc" )', 3, 4, "unexpected ')'")
    assert err.format().splitlines()[1] == '   3 | c" )'


@pytest.mark.parametrize("text, col, fragment", [
    (r'(f "ab\q")', 4, r"\q"),
    (r'(f "\x4")', 4, r"\x"),
    (r'(f "\u12")', 4, r"\u"),
    (r'(f "\U0011FFFF")', 4, "U+10FFFF"),
    (r'(f "\UFFFFFFFF")', 4, "U+10FFFF"),
    (r'(f "\8")', 4, r"\8"),
    (r'(f "\N{NO SUCH CHARACTER NAME}")', 4, "character name"),
    (r'(f "\N")', 4, "character name"),
])
def test_invalid_escapes(text, col, fragment):
    # the error names the escape and points at the string's opening quote
    assert_error(text, 1, col, fragment)


@pytest.mark.parametrize("text, line, col", [
    ('"abc', 1, 1),
    ('x\n (f "abc\n def', 2, 5),
    ('"abc\\"', 1, 1),  # the quote is escaped
    ('"abc\\', 1, 1),
    ('"ok" "no', 1, 6),
])
def test_unterminated_string(text, line, col):
    assert_error(text, line, col, "unterminated string")


# --------------------------------------------------------------------------
# 3. Deep nesting


def depth_of(form) -> int:
    """Nesting depth of a chain of single-element sequences (iterative)."""
    depth = 0
    x = form
    while isinstance(x, (Form, Vec)):
        depth += 1
        x = x.items[0] if x.items else None
    return depth


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_deep_nesting_reads_and_prints(n):
    text = "(" * n + ")" * n
    form = read_one(text)
    assert depth_of(form) == n
    inner = form
    while inner.items:
        inner = inner.items[0]
    assert span_tuple(inner) == (1, n, 1, n + 2)
    assert span_tuple(form) == (1, 1, 1, 2 * n + 1)
    assert dumps(form) == text


def test_deep_nesting_equality_and_hash():
    n = 10_000
    text = "[" * n + "(x)" + "]" * n
    a, b = read_one(text), read_one(text)
    assert a is not b
    assert a == b and hash(a) == hash(b)
    c = read_one("[" * n + "(y)" + "]" * n)
    assert a != c
    d = read_one("[" * (n - 1) + "((x))" + "]" * (n - 1))
    assert a != d  # differs only in the kind of the innermost bracket
    assert dumps(a) == text


def test_deep_quote_chain():
    n = 10_000
    form = read_one("'" * n + "x")
    depth = 0
    x = form
    while type(x) is Form:
        assert x.items[0] == S("quote")
        x = x.items[1]
        depth += 1
    assert depth == n and x == S("x")


# --------------------------------------------------------------------------
# 4. Syntax errors with exact positions


@pytest.mark.parametrize("text, line, col, fragments", [
    ("(", 1, 1, ["unclosed '('"]),
    ("(defn f [x]\n  (+ x 1)", 1, 1, ["unclosed '('", "')'"]),
    ("(ok)\n(f\n   (g x", 3, 4, ["unclosed '('"]),  # innermost open bracket
    ("[1 2", 1, 1, ["unclosed '['", "']'"]),
    ("(f [a\n  b)", 2, 4, ["')' does not match '['", "1:4"]),
    ("(]", 1, 2, ["']' does not match '('", "1:1"]),
    ("(a))", 1, 4, ["unexpected ')'"]),
    ("x\n  ]", 2, 3, ["unexpected ']'"]),
    ("'", 1, 1, ["\"'\" must be followed by a form"]),
    ("x '", 1, 3, ["must be followed by a form"]),
    ("(f ')", 1, 4, ["must be followed by a form"]),
    ("(f `)", 1, 4, ["must be followed by a form"]),
    ("[a ~]", 1, 4, ["must be followed by a form"]),
    ("(a\n ~@)", 2, 2, ["'~@' must be followed by a form"]),
    ("'  ; comment\n", 1, 1, ["must be followed by a form"]),
])
def test_bracket_and_quote_errors(text, line, col, fragments):
    assert_error(text, line, col, *fragments)


@pytest.mark.parametrize("text, line, col, fragments", [
    ("#{1 2}", 1, 1, ["set literals", "Hy-only"]),
    ("(f\n  #{1 2})", 2, 3, ["set literals", "Hy-only"]),
    ("#(1 2)", 1, 1, ["tuple literals", "Hy-only"]),
    ("{1 2}", 1, 1, ["dict literals", "Hy-only"]),
    ("(f {:a 1})", 1, 4, ["dict literals", "Hy-only"]),
    ('f"x"', 1, 1, ["f-strings", "Hy-only"]),
    ('(print f"{x}")', 1, 8, ["f-strings", "Hy-only"]),
    ('fr"x"', 1, 1, ["f-strings", "Hy-only"]),
    ('b"x"', 1, 1, ["byte strings", "Hy-only"]),
    ('r"x"', 1, 1, ["raw strings", "Hy-only"]),
    ("#_ x", 1, 1, ["discard", "Hy-only"]),
    ("#[[x]]", 1, 1, ["bracket strings", "Hy-only"]),
    ("#foo", 1, 1, ["reader macros", "Hy-only"]),
    ("(a #foo b)", 1, 4, ["reader macros", "Hy-only"]),
    ("#*xs", 1, 1, ["unpacking", "Hy-only"]),
    ("#!/usr/bin/env hy", 1, 1, ["shebang"]),
])
def test_hy_only_syntax_is_rejected_by_name(text, line, col, fragments):
    assert_error(text, line, col, *fragments)


@pytest.mark.parametrize("text, line, col, code", [
    ("a\u00a0b", 1, 2, "U+00A0"),      # no-break space
    ("(f\n  x\u2009)", 2, 4, "U+2009"),  # thin space
    ("\u3000x", 1, 1, "U+3000"),
])
def test_non_ascii_whitespace_is_rejected(text, line, col, code):
    # Hy's whitespace is ASCII only; it would read these as symbol characters
    assert_error(text, line, col, code, "not whitespace")


def test_ascii_whitespace_and_unicode_in_strings_and_comments():
    assert read("a \t\r\n\x0b\x0c b") == (S("a"), S("b"))
    assert read_one('"\u00a0\u3000\u00e9"') == "\u00a0\u3000\u00e9"
    assert read("; \u00a0 caf\u00e9 \nx") == (S("x"),)


# --------------------------------------------------------------------------
# 4b. Text that deceives: what a reader of the source sees is what it says


@pytest.mark.parametrize("text, line, col, code", [
    ("a\u200bb", 1, 2, "U+200B"),             # zero-width space inside a name
    ("(f x\u200d)", 1, 5, "U+200D"),          # zero-width joiner
    ("(def pi\u00ad 3)", 1, 8, "U+00AD"),     # soft hyphen
    ("(f\n  \u2060x)", 2, 3, "U+2060"),        # word joiner
    ("a\x00b", 1, 2, "U+0000"),               # NUL
    ("a \x1c", 1, 3, "U+001C"),               # str.isspace(), but a control
    ("x\x85", 1, 2, "U+0085"),                # next line (C1 control)
    ("(f\n  x\u2028)", 2, 4, "U+2028"),        # line separator
    ("x \u3164", 1, 3, "U+3164"),             # Hangul filler (an invisible letter)
    ("x\ufeffy", 1, 2, "U+FEFF"),             # a BOM anywhere but at the start
    ('(f "a\u200bb")', 1, 6, "U+200B"),        # in a string: write "\u200b"
    ("; a comment\u200b\nx", 1, 12, "U+200B"),  # in a comment too
    ('"\ud800"', 1, 2, "U+D800"),             # a lone surrogate
])
def test_invisible_characters_are_rejected(text, line, col, code):
    err = assert_error(text, line, col, code, "invisible character", "not allowed")
    assert "\\u" in err.message or "\\x" in err.message  # says how to write it in a string


@pytest.mark.parametrize("text, col", [
    ('(def access (if (= user "admin\u202e \u2066// check\u2069 \u2066")) 1 0))', 31),
    ("; \u202e) x(\nx", 3),                    # Trojan Source: a comment that shows code
    ("a\u200fb", 2),                           # right-to-left mark
    ("a\u061cb", 2),                           # Arabic letter mark
])
def test_bidirectional_controls_are_rejected_everywhere(text, col):
    assert_error(text, 1, col, "bidirectional control character")


def test_invisible_characters_written_as_escapes_are_fine():
    assert read_one(r'"a\u200bb\u202e\x00\ufeff"') == "a\u200bb\u202e\x00\ufeff"


def test_the_first_error_in_the_text_is_reported():
    # an invisible character after a syntax error does not hide it, nor the reverse
    assert_error("(f ] \u200b)", 1, 4, "does not match")
    assert_error("(f \u200b ]", 1, 4, "U+200B")
    assert_error("(f \u200b", 1, 4, "U+200B")


@pytest.mark.parametrize("text, col, fragments", [
    ("f\uff08x\uff09", 2, ["U+FF08", "FULLWIDTH LEFT PARENTHESIS", "not allowed in names"]),
    ("(print x\u037e)", 9, ["U+037E", "GREEK QUESTION MARK", "';'"]),
    ("a\u201cb", 2, ["U+201C", "quotation mark"]),
    ("p\uff0ex", 2, ["U+FF0E", "'.'"]),                # full-width full stop
    ("x\u2024y", 2, ["U+2024", "'.'"]),                # one dot leader
    ("\u27e8x", 1, ["U+27E8", "bracket"]),
    (":k\uff1b", 3, ["U+FF1B", "';'"]),                # in a keyword
    ("p.x\uff08", 4, ["U+FF08"]),                      # in a dotted name
    ("\u0301x", 1, ["combining mark"]),               # combines with what precedes
    ("(f \u0301)", 4, ["combining mark"]),
    ("x\ue000", 2, ["private-use"]),
])
def test_look_alike_characters_are_rejected_in_names(text, col, fragments):
    assert_error(text, 1, col, *fragments)


def test_names_are_normalized_to_nfc():
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    assert read_one(nfd) == read_one(nfc) == S(nfc)
    assert read_one(nfd).name is read_one(nfc).name
    assert read_one(":" + nfd) == K(nfc)
    assert read_one("p." + nfd) == F(S("."), S("p"), S(nfc))
    assert read_one("\u212b") == S("\u00c5")      # ANGSTROM SIGN is A with ring above
    # the span is that of the text as written
    (form,) = read("(f " + nfd + " y)")
    assert span_tuple(form.items[1]) == (1, 4, 1, 9)
    assert span_tuple(form.items[2]) == (1, 10, 1, 11)
    (form,) = read("q." + nfd + ".z")
    assert [span_tuple(p) for p in form.items[1:]] == [(1, 1, 1, 2), (1, 3, 1, 8),
                                                       (1, 9, 1, 10)]
    # strings are data: kept as written
    assert read_one('"' + nfd + '"') == nfd


@pytest.mark.parametrize("text", ["\u03bb", "x\u2032", "\u00bd", "\U0001F600", "\u2764\ufe0f",
                                  "\u5909\u6570", "\u0663x"])
def test_ordinary_non_ascii_names(text):
    assert read_one(text) == S(text)


def test_byte_order_mark_at_the_start_is_skipped():
    assert read("\ufeff(f x)") == (F(S("f"), S("x")),)
    (form,) = read("\ufeff(f x)")
    assert span_tuple(form) == (1, 1, 1, 6)
    assert read("\ufeff") == ()
    assert_error("\ufeff\ufeffx", 1, 1, "U+FEFF")


@pytest.mark.parametrize("nl", ["\n", "\r\n", "\r"])
def test_every_line_break_spelling_is_one_line_break(nl):
    text = f"; comment{nl}(f{nl}  x){nl}\t(g y ]"
    err = read_error(text)
    assert (err.span.line, err.span.col) == (4, 7)
    assert err.format().splitlines()[1] == "   4 | \tg y ]".replace("g", "(g")
    a = read(f"(f{nl}  x)")[0]
    assert span_tuple(a) == (1, 1, 2, 5)
    assert span_tuple(a.items[1]) == (2, 3, 2, 4)
    # a lone CR ends a comment: what follows it is code, as an editor shows it
    assert read(f"; note{nl}x") == (S("x"),)
    assert read_one(f'"a{nl}b"') == "a\nb"


def test_line_breaks_mixed():
    forms = read("a\rb\r\nc\n\rd")
    assert [f.span.line for f in forms] == [1, 2, 3, 5]


def test_spans_of_wide_characters_and_tabs_count_characters():
    (form,) = read("(\u5909 \t\U0001F600 x)")
    assert [span_tuple(i) for i in form.items] == [(1, 2, 1, 3), (1, 5, 1, 6), (1, 7, 1, 8)]
    err = read_error("(\u5909\t\U0001F600 ]")
    assert (err.span.line, err.span.col) == (1, 6)


def test_long_string_of_escapes_reads_in_linear_memory():
    import tracemalloc

    n = 1_000_000
    text = '"' + "\\n" * n + '"'
    tracemalloc.start()
    try:
        value = read_one(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert value == "\n" * n
    assert peak < 10 * len(text), peak
    mixed = '"' + "a\\x41\\u00e9\\n" * 1000 + '"'
    assert read_one(mixed) == "aA\u00e9\n" * 1000


def test_error_str_and_format():
    text = "(defn f [x]\n  (g #{1 2}))"
    err = read_error(text)
    assert str(err).startswith("<string>:2:6: ")
    lines = err.format().splitlines()
    assert str(err) == err.format()   # str is the whole report
    assert lines[0] == err.headline()
    assert lines[1] == "   2 |   (g #{1 2}))"
    # the caret sits under the '#', the span '#{' is two characters wide
    assert lines[2] == " " * (len("   2 | ") + 5) + "^~"
    assert lines[2].index("^") == lines[1].index("#")


def test_error_format_with_filename_and_caret_under_unclosed_paren():
    text = "(def a 1)\n\n  (def b\n    (+ 1 2)"
    err = read_error(text, "model.sx")
    assert str(err).startswith("model.sx:3:3: unclosed '('")
    lines = err.format().splitlines()
    assert lines[1] == "   3 |   (def b"
    assert lines[2].index("^") == lines[1].index("(")
    assert lines[2].strip() == "^"


def test_error_line_excerpt_is_by_newlines_only():
    # \v and \f are not line breaks for the reader: the excerpt must show
    # the same line the position refers to.
    text = '"a\x0bb\x0cc"\n(f ]'
    err = read_error(text)
    assert (err.span.line, err.span.col) == (2, 4)
    assert err.format().splitlines()[1] == "   2 | (f ]"


def test_error_message_for_mismatched_bracket_format():
    err = read_error("(let [x 1)\n  x)")
    assert err.headline() == "<string>:1:10: ')' does not match '[' opened at 1:6"
    lines = err.format().splitlines()
    assert lines[1] == "   1 | (let [x 1)"
    assert lines[2] == " " * (7 + 9) + "^"


def test_read_one_requires_exactly_one_form():
    with pytest.raises(SxSyntaxError, match="found 0"):
        read_one("  ; nothing\n")
    with pytest.raises(SxSyntaxError, match="found 2") as info:
        read_one("a\n  b")
    assert (info.value.span.line, info.value.span.col) == (2, 3)


def test_empty_input_and_comments():
    assert read("") == ()
    assert read("; just a comment") == ()
    assert read("a ; comment (with [brackets\nb") == (S("a"), S("b"))
    assert read("(a;c\nb)") == (F(S("a"), S("b")),)


# --------------------------------------------------------------------------
# 5. Quote sugar and dotted names


@pytest.mark.parametrize("text, expected", [
    ("'x", F(S("quote"), S("x"))),
    ("`x", F(S("quasiquote"), S("x"))),
    ("~x", F(S("unquote"), S("x"))),
    ("~@x", F(S("unquote-splice"), S("x"))),
    ("' x", F(S("quote"), S("x"))),
    ("'(1 2)", F(S("quote"), F(1, 2))),
    ("'[a]", F(S("quote"), V(S("a")))),
    ("''x", F(S("quote"), F(S("quote"), S("x")))),
    ("'5", F(S("quote"), 5)),
    ("`(a ~b ~@c)", F(S("quasiquote"),
                      F(S("a"), F(S("unquote"), S("b")), F(S("unquote-splice"), S("c"))))),
    ("~'x", F(S("unquote"), F(S("quote"), S("x")))),
    ("'\n;c\nx", F(S("quote"), S("x"))),
])
def test_quote_sugar(text, expected):
    assert read_one(text) == expected


def test_quote_spans():
    form = read_one("(f 'x\n   ~@(g y))")
    q = form.items[1]
    assert span_tuple(q) == (1, 4, 1, 6)
    assert span_tuple(q.items[0]) == (1, 4, 1, 5)  # the `quote` symbol is the '
    assert span_tuple(q.items[1]) == (1, 5, 1, 6)
    u = form.items[2]
    assert span_tuple(u) == (2, 4, 2, 11)
    assert span_tuple(u.items[0]) == (2, 4, 2, 6)
    assert span_tuple(u.items[1]) == (2, 6, 2, 11)


def test_quote_sugar_equals_long_form():
    assert read_one("`(f ~x ~@ys)") == read_one(
        "(quasiquote (f (unquote x) (unquote-splice ys)))")


@pytest.mark.parametrize("text, expected", [
    ("a.b", F(S("."), S("a"), S("b"))),
    ("a.b.c", F(S("."), S("a"), S("b"), S("c"))),
    ("p.w1", F(S("."), S("p"), S("w1"))),
    ("self.sum-tree", F(S("."), S("self"), S("sum-tree"))),
    ("(f x.y)", F(S("f"), F(S("."), S("x"), S("y")))),
    ("'a.b", F(S("quote"), F(S("."), S("a"), S("b")))),
])
def test_dotted_names(text, expected):
    assert read_one(text) == expected


def test_dotted_name_equals_explicit_dot_form():
    assert read_one("a.b.c") == read_one("(. a b c)")


def test_dotted_name_spans():
    form = read_one("(f\n  pp.w)")
    d = form.items[1]
    assert span_tuple(d) == (2, 3, 2, 7)
    assert span_tuple(d.items[0]) == (2, 3, 2, 7)  # the `.` takes the whole token
    assert span_tuple(d.items[1]) == (2, 3, 2, 5)
    assert span_tuple(d.items[2]) == (2, 6, 2, 7)


@pytest.mark.parametrize("text", [
    "a..b",    # Hy: multiple dots only allowed at the start
    "a.",      # Hy: can't end with a dot
    "a.b.",
    ".a",      # Hy: (. None a) method-call sugar, which we do not have
    "..a",
    "a.1",     # Hy: parts must be symbols
    "a.True",
    "a.None",
    "a.Inf",
    "a.-NaN",
    "a.:b",    # part would be an unprintable symbol ':b'
    "a.#b",
])
def test_malformed_dotted_names(text):
    err = assert_error("(f " + text + ")", 1, 4, "malformed dotted name", text,
                       end_col=4 + len(text))
    assert "malformed dotted name" in str(err)


@pytest.mark.parametrize("text", ["...", ".", "..", "...."])
def test_all_dots_are_plain_symbols(text):
    assert read_one(text) == S(text)


# --------------------------------------------------------------------------
# 6. Spans


PROGRAM = """\
(defn add [x y]
  ;; sum
  (+ x
     y))
[a :k]
"""


def test_spans_of_multiline_program():
    defn, vec = read(PROGRAM, "prog.sx")
    assert span_tuple(defn) == (1, 1, 4, 9)
    head, name, params, body = defn.items
    assert span_tuple(head) == (1, 2, 1, 6)
    assert span_tuple(name) == (1, 7, 1, 10)
    assert span_tuple(params) == (1, 11, 1, 16)
    assert span_tuple(params.items[0]) == (1, 12, 1, 13)
    assert span_tuple(params.items[1]) == (1, 14, 1, 15)
    assert span_tuple(body) == (3, 3, 4, 8)
    assert span_tuple(body.items[0]) == (3, 4, 3, 5)
    assert span_tuple(body.items[1]) == (3, 6, 3, 7)
    assert span_tuple(body.items[2]) == (4, 6, 4, 7)
    assert span_tuple(vec) == (5, 1, 5, 7)
    assert span_tuple(vec.items[0]) == (5, 2, 5, 3)
    assert span_tuple(vec.items[1]) == (5, 4, 5, 6)
    assert defn.span.file == "prog.sx"
    assert repr(defn.span) == "<prog.sx:1:1-4:9>"
    assert defn.span.source.line(3) == "  (+ x"


def test_spans_count_characters_not_bytes_and_tabs_as_one():
    (form,) = read("(\u03bb \U0001F600 x)")
    assert span_tuple(form.items[2]) == (1, 6, 1, 7)
    (form,) = read("\t(f\tx)")
    assert span_tuple(form) == (1, 2, 1, 7)
    assert span_tuple(form.items[1]) == (1, 5, 1, 6)


def test_spans_with_crlf_line_ends():
    a, b = read("(a)\r\n  (b)\r\n")
    assert span_tuple(a) == (1, 1, 1, 4)
    assert span_tuple(b) == (2, 3, 2, 6)


def test_keyword_span():
    (form,) = read("(sum x\n  :axis 0)")
    assert span_tuple(form.items[2]) == (2, 3, 2, 8)


# --------------------------------------------------------------------------
# 7. Structural equality and hashing


def test_equality_distinguishes_atom_types_and_zero_sign():
    assert F(True) != F(1)
    assert F(False) != F(0)
    assert F(1) != F(1.0)
    assert F(0.0) != F(-0.0)
    assert F(None) != F(S("None"))
    assert F("x") != F(S("x"))
    assert F(S("x")) != F(K("x"))
    assert not form_eq(True, 1)
    assert not form_eq(1, 1.0)
    assert not form_eq(0.0, -0.0)
    assert form_eq(-0.0, -0.0)
    assert form_eq(1, 1)


def test_nan_equals_nan():
    a, b = float("nan"), float("nan")
    assert a is not b
    assert form_eq(a, b)
    assert F(a, V(b)) == F(b, V(a))
    assert read_one("(f NaN)") == F(S("f"), float("nan"))
    assert F(math.nan) != F(math.inf)


def test_form_and_vec_differ():
    assert F() != V()
    assert F(1, 2) != V(1, 2)
    assert F(V(1)) != F(F(1))
    assert F(1, 2) != (1, 2)
    assert F(1, 2) != [1, 2]


def test_equality_ignores_spans():
    a = read_one("(f [x]\n   (g x))")
    b = F(S("f"), V(S("x")), F(S("g"), S("x")))
    assert a.span is not None and b.span is None
    assert a == b and hash(a) == hash(b)
    assert S("x", Span(None, 1, 1, 1, 2)) == S("x")
    assert hash(S("x", Span(None, 1, 1, 1, 2))) == hash(S("x"))
    assert K("k", Span(None, 3, 3, 3, 5)) == K("k")


def test_lengths_and_order_matter():
    assert F(1, 2) != F(2, 1)
    assert F(1, 2) != F(1, 2, 3)
    assert F(1) != F()


def test_hash_consistent_with_equality():
    forms = [
        read_one("(f 1 2.0 [x :k] \"s\" True None NaN -0.0)"),
        F(S("f"), 1, 2.0, V(S("x"), K("k")), "s", True, None, float("nan"), -0.0),
    ]
    assert forms[0] == forms[1]
    assert hash(forms[0]) == hash(forms[1])
    table = {forms[0]: "v"}
    assert table[forms[1]] == "v"
    # different forms may collide, but these must be told apart by equality
    distinct = [F(1), F(True), F(1.0), F(0.0), F(-0.0), V(1), F(S("a")), F(K("a")), F("a")]
    assert len(set(distinct)) == len(distinct)
    assert len({F(float("nan")), F(float("nan"))}) == 1


def test_hash_is_cached_and_equality_uses_it_safely():
    a = read_one("(a (b (c d)))")
    b = read_one("(a (b (c e)))")
    hash(a), hash(b)
    assert a != b
    c = read_one("(a (b (c d)))")
    hash(c)
    assert a == c


# --------------------------------------------------------------------------
# 8. Differential check against Hy's reader: "anything both readers accept
#    reads to the same tree" (DESIGN.md section 2)


try:
    import hy.models as hy_models
    import hy.reader as hy_reader
except ImportError:  # pragma: no cover - hy is a dependency, but keep the rest running
    hy_models = hy_reader = None

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

needs_hy = pytest.mark.skipif(hy_reader is None, reason="hy is not installed")


def from_hy(m):
    """A Hy model as a form (Hy reads True/False/None as symbols)."""
    t = type(m)
    if t is hy_models.Expression:
        return Form([from_hy(c) for c in m])
    if t is hy_models.List:
        return Vec([from_hy(c) for c in m])
    if t is hy_models.Integer:
        return int(m)
    if t is hy_models.Float:
        return float(m)
    if t is hy_models.String:
        return str(m)
    if t is hy_models.Keyword:
        return Keyword(m.name)
    if t is hy_models.Symbol:
        name = str(m)
        return {"True": True, "False": False, "None": None}.get(name, Symbol(name))
    raise TypeError(f"unexpected Hy model {t.__name__}")


def hy_read(text):
    # Hy reads files with universal newlines (CRLF and CR become LF), as our
    # reader reads every text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return tuple(from_hy(m) for m in hy_reader.read_many(text))


PIECES = (list("0123456789+-._,:eEjxobIiNnaf#'`~@()[] \"\\;\n\r")
          + ["\u00a0", "\u0663", "\uff11", "\u03bb", "\u2028", "\x1c", "\x85",
             "Inf", "NaN", "True", "None", "0x", "\\x41", "\\u00e9", "\\N{EM DASH}"])


@needs_hy
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join))
def test_agrees_with_hy_where_both_accept(text):
    try:
        ours = read(text)
    except SxSyntaxError:
        return  # rejecting is always allowed (a strict subset)
    try:
        theirs = hy_read(text)
    except Exception:
        return
    assert len(ours) == len(theirs), (text, ours, theirs)
    for a, b in zip(ours, theirs):
        assert form_eq(a, b), (text, ours, theirs)


@needs_hy
@pytest.mark.parametrize("text", [
    "42 -7 +5 0x1F 0o17 0b101 1_000 1.0 -2.5e-3 1e3 1. .5 Inf -Inf",
    "(defn sum-tree [t] (if (tuple? t) (+ (sum-tree t.left) (sum-tree t.right)) t))",
    "'x `(a ~b ~@c) :axis \"caf\\u00e9\\n\" [1 [2 (3)]] a.b.c ... . -> nan",
    "(f None True False [None])",
])
def test_agrees_with_hy_on_examples(text):
    assert hy_read(text) == read(text)

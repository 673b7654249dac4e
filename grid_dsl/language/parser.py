"""Spec text -> AST. The grammar lives in grammar.lark; a Lark Transformer
builds the frozen nodes (nodes.py and kinds/), each from its rule's children in order.

Syntax errors do not stop at the first: after an error the parser resumes at
the next line that starts a statement, so every broken statement is reported.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from grid_dsl.language import nodes
from grid_dsl.language.diagnostics import Diagnostic, SpecError
from grid_dsl.language.nodes import Comment, Loc, Spec

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")
STATEMENT_SUFFIX = "_decl"  # every rule named `*_decl` is a statement
_STATEMENT_RULE = re.compile(rf"^(\w+{STATEMENT_SUFFIX})\s*:", re.M)

_TERMINAL_NAMES = {
    "NAME": "a name",
    "STRING": 'a "string"',
    "LONG_STRING": 'a """long string"""',
    "REGEX": "a /regex/",
    "INT": "a whole number",
    "SIGNED_INT": "a whole number",
    "NUMBER": "a number",
    "OPERATOR": "an operator (== != < <= > >= in is ~)",
    "SEGMENTER": "a segmenter (words tokens sentences paragraphs lines matches split)",
    "$END": "end of file",
}


def grammar_text() -> str:
    """grammar.lark and the rule it leaves out: `_statement`, one of its
    `*_decl` rules (so a new statement is one rule in the file)."""
    text = GRAMMAR_PATH.read_text(encoding="utf-8")
    return f"{text}\n_statement: {' | '.join(_STATEMENT_RULE.findall(text))}\n"


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,  # Lark keeps the analysed grammar in a temporary file: a command starts ~0.15 s sooner
    )


def literal_words(terminal) -> list[str]:
    """The words a terminal matches when it is a keyword: "main" for an
    anonymous `"main"`, each alternative of VIEW ("position", "index", "depth")."""
    if terminal.pattern.type == "str":
        alternatives = [terminal.pattern.value]
    else:
        alternation = re.fullmatch(r"\(\?:(.*)\)", terminal.pattern.value)
        alternatives = alternation.group(1).split("|") if alternation else []
    return [word for word in alternatives if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word)]


@functools.lru_cache(maxsize=1)
def keywords() -> frozenset[str]:
    """Every word the grammar reserves somewhere (statement keywords, `when`,
    `or`, segmenters, views, `in`, `is`, ...)."""
    return frozenset(word for terminal in _lark().terminals for word in literal_words(terminal))


@functools.lru_cache(maxsize=1)
def statement_keywords() -> tuple[str, ...]:
    """The words a statement starts with: the first terminal of each
    `*_decl` rule ("main", "include", ..., "lexicon", "position", ...)."""
    terminals = {t.name: t for t in _lark().terminals}
    words: dict[str, None] = {}
    for rule in _lark().rules:
        if rule.origin.name.endswith(STATEMENT_SUFFIX):
            first = terminals.get(rule.expansion[0].name) if rule.expansion else None
            if first is None or not literal_words(first):
                raise AssertionError(f"grammar rule {rule.origin.name} must start with a keyword")
            words.update(dict.fromkeys(literal_words(first)))
    return tuple(words)


@functools.lru_cache(maxsize=1)
def _statement_start() -> re.Pattern:
    return re.compile(r"^(?:%s)\b" % "|".join(statement_keywords()), re.M)


class _Splat(tuple):
    """A terminal that fills several fields of its node (REGEX: source, flags)."""


class ToAst(Transformer):
    """Builds nodes generically: rule name -> registered node class."""

    def __init__(self, file: str):
        super().__init__(visit_tokens=True)
        self.file = file

    # ---- terminals
    def STRING(self, tok: Token) -> str:
        try:
            return ast.literal_eval(str(tok))
        except (SyntaxError, ValueError) as err:
            raise _TokenError(tok, f"invalid string literal: {err}") from None

    def LONG_STRING(self, tok: Token) -> str:
        return str(tok)[3:-3]

    def REGEX(self, tok: Token) -> _Splat:
        text = str(tok)
        end = text.rindex("/")
        return _Splat((text[1:end], text[end + 1 :]))

    def NUMBER(self, tok: Token) -> int | float:
        text = str(tok)
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)

    def INT(self, tok: Token) -> int:
        return int(tok)

    SIGNED_INT = INT

    def NAME(self, tok: Token) -> str:
        return str(tok)

    def __default_token__(self, tok: Token) -> str:
        """Keyword terminals (SEGMENTER, VIEW, STATE, OPERATOR, ...) become their text."""
        return str(tok)

    # ---- rules
    def start(self, children):
        return children[0]

    def __default__(self, data, children, meta):
        loc = None if meta.empty else Loc(self.file, meta.line, meta.column, meta.end_line, meta.end_column)
        args = []
        for child in children:
            args.extend(child) if isinstance(child, _Splat) else args.append(child)
        cls = nodes.NODE_FOR_RULE.get(data)
        if cls is None:
            if data.endswith("_list"):
                return tuple(args)
            raise AssertionError(f"grammar rule {data!r} has no node")
        if cls.__variadic__:
            return cls(tuple(args), loc=loc)
        return cls(*args, loc=loc)


class _TokenError(Exception):
    def __init__(self, token: Token, message: str):
        self.token, self.message = token, message


_KEYWORD_SET = re.compile(r"(?:\(\?:)?\w+(?:\|\w+)+\)?")


def _describe_expected(names) -> str:
    shown = []
    terminals = {t.name: t for t in _lark().terminals}
    for name in sorted(names):
        if name in _TERMINAL_NAMES:
            shown.append(_TERMINAL_NAMES[name])
        elif name in terminals and _KEYWORD_SET.fullmatch(terminals[name].pattern.value):
            words = re.findall(r"\w+", terminals[name].pattern.value)  # a set of keywords: VIEW, STATE
            shown.append(", ".join(words[:-1]) + f" or {words[-1]}")
        elif name in terminals and terminals[name].pattern.type == "str":
            shown.append(f'"{terminals[name].pattern.value}"')
        else:
            shown.append(name)
    return ", ".join(dict.fromkeys(shown))


def _syntax_diagnostic(err: UnexpectedInput, file: str) -> Diagnostic:
    if isinstance(err, UnexpectedToken) and err.token.type == "$END" or isinstance(err, UnexpectedEOF):
        line, column = err.line, err.column
        message = "unexpected end of file"
        width = 1
    elif isinstance(err, UnexpectedToken):
        line, column = err.line, err.column
        message = f"unexpected {str(err.token)!r}"
        width = max(1, len(str(err.token).split("\n")[0]))
    else:
        line, column = err.line, err.column
        message = f"unexpected character {err.char!r}"
        width = 1
    expected = getattr(err, "accepts", None) or getattr(err, "expected", None) or getattr(err, "allowed", None)
    hint = f"expected {_describe_expected(expected)}" if expected else ""
    if line is None or line < 0:
        line, column = 1, 1
    return Diagnostic(Loc(file, line, column, line, column + width), message, hint)


def _eof_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def parse(text: str, file: str = "<spec>") -> Spec:
    """Parse one spec file (includes are resolved later, by the checker)."""
    diagnostics: list[Diagnostic] = []
    comments: list[Comment] = []
    spec = None
    blanked = text
    while True:
        try:
            tree = _lark().parse(blanked)
            spec = ToAst(file).transform(tree)
            break
        except VisitError as err:
            if not isinstance(err.orig_exc, _TokenError):
                raise
            tok = err.orig_exc.token
            diagnostics.append(
                Diagnostic(Loc(file, tok.line, tok.column, tok.end_line, tok.end_column), err.orig_exc.message)
            )
            break
        except UnexpectedInput as err:
            diag = _syntax_diagnostic(err, file)
            if isinstance(err, (UnexpectedEOF,)) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
                line, column = _eof_position(text)
                diag = attrs_evolve_loc(diag, Loc(file, line, column, line, column + 1))
            diagnostics.append(diag)
            # Resume at the next statement that starts after the error's line.
            offset = _offset_of_line(blanked, diag.loc.line + 1)
            match = _statement_start().search(blanked, offset) if offset is not None else None
            if match is None:
                break
            blanked = re.sub(r"[^\n]", " ", blanked[: match.start()]) + blanked[match.start() :]
    if diagnostics:
        raise SpecError(diagnostics, {file: text})
    comments = _comments(text)
    return nodes.Spec(spec.statements, comments=tuple(comments), source=text, file=file, loc=spec.loc)


def attrs_evolve_loc(diag: Diagnostic, loc: Loc) -> Diagnostic:
    return Diagnostic(loc, diag.message, diag.hint, diag.severity)


def _offset_of_line(text: str, line: int) -> int | None:
    offset = 0
    for _ in range(line - 1):
        offset = text.find("\n", offset)
        if offset < 0:
            return None
        offset += 1
    return offset


def _comments(text: str) -> list[Comment]:
    """Comments with their positions, found by the grammar's own lexer so a
    `#` inside a string or regex is never mistaken for one."""
    found = []
    lexer_conf_tokens = _lark().lex(text, dont_ignore=True)
    code_lines: set[int] = set()
    for tok in lexer_conf_tokens:
        if tok.type == "COMMENT":
            found.append(tok)
        elif tok.type != "WS":
            for line in range(tok.line, tok.end_line + 1):
                code_lines.add(line)
    return [Comment(str(t).rstrip(), t.line, t.column, t.line in code_lines) for t in found]


def parse_file(path: str | Path) -> Spec:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([Diagnostic(None, f"spec file not found: {path}", "check the path")]) from None
    return parse(decode_spec(data, str(path)), str(path))


def decode_spec(data: bytes, name: str) -> str:
    """A spec file's bytes as text (UTF-8, a leading BOM dropped); a byte
    that is not UTF-8 is a located error, its line shown with the byte
    escaped (\\xff)."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        line_start = data.rfind(b"\n", 0, err.start) + 1
        line = data.count(b"\n", 0, err.start) + 1
        column = len(data[line_start : err.start].decode("utf-8", errors="replace")) + 1
        shown = data.decode("utf-8", errors="backslashreplace")
        loc = Loc(name, line, column, line, column + 4)  # the escape is four characters wide
        raise SpecError([Diagnostic(loc, f"byte {data[err.start]:#04x} is not UTF-8 text",
                                    "save the spec as UTF-8 (specs are UTF-8 text)")], {name: shown}) from None

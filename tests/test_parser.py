"""The parser: every statement kind becomes its node; syntax errors are all
reported with a location and the tokens Lark expected."""

import pytest

from grid_dsl import SpecError, parse
from grid_dsl.language import nodes as n

SPEC = '''
# a comment
main chars (normalize=nfc, newlines=lf)
include "other.axes"
group sents = sentences within paras (label=S)
chunks np over upos within sents """ NP: {<DT>?<NN>} """
lexicon fairy (case=insensitive, whole_word) { "king" | /qu(een)?/i -> ROYAL  "x" -> "PRP$" }
pos upos (tagset=universal, prefix)
tagger caps = char_class (labels=[A, "B c"], k=-2, f=1.5e3)
rules r { when not char[-1] is space and (upos == NOUN or upos in [VERB, "."]) -> X  default -> Y }
annotation roles (layer=role, labels=[HERO])
relabel coarse = upos { NOUN | PRON -> N  default -> O }
product p = upos * fairy
lag a = upos by 2 chars
lag b = upos after toks
depth d = np (max=4)
feed b as context
feed fairy as predict (weight=0.5, dim=16,)
'''


def test_every_statement_kind_becomes_its_node():
    spec = parse(SPEC, "t.axes")
    kinds = [type(s) for s in spec.statements]
    assert kinds == [
        n.MainDecl, n.Include, n.GroupDecl, n.ChunksDecl, n.LexiconDecl, n.PosDecl, n.TaggerDecl,
        n.RulesDecl, n.AnnotationDecl, n.RelabelDecl, n.ProductDecl, n.LagDecl, n.LagDecl, n.ViewDecl,
        n.Feed, n.Feed,
    ]
    lexicon = spec.statements[4]
    assert lexicon.entries[0].patterns == (n.Str("king"), n.Regex("qu(een)?", "i"))
    assert lexicon.entries[1].label == n.Label("PRP$")
    tagger = spec.statements[6]
    assert [o.value for o in tagger.options.items] == [
        n.ListValue((n.Ident("A"), n.Str("B c"))), n.Num(-2), n.Num(1500.0)]
    rule = spec.statements[7].rules[0]
    assert isinstance(rule.condition, n.AllOf)
    first, second = rule.condition.conditions
    assert first == n.Not(n.Test(n.CharSubject(n.Offset(-1)), "is", n.Ident("space")))
    assert isinstance(second, n.AnyOf) and len(second.conditions) == 2
    assert spec.statements[11].amount == 2 and spec.statements[12].amount == n.Ref("toks")


def test_locations_point_at_the_source():
    spec = parse(SPEC, "t.axes")
    lag = spec.statements[12]
    assert (lag.loc.file, lag.loc.line, lag.loc.column) == ("t.axes", 15, 1)
    assert (lag.amount.loc.line, lag.amount.loc.column) == (15, 20)


def test_equality_ignores_layout_and_comments():
    a = parse("lexicon x { \"a\" -> A }  # c")
    b = parse("# other\nlexicon   x {\n    \"a\"   ->   A\n}\n")
    assert a == b and a.comments != b.comments


def test_comments_are_collected_with_their_kind():
    spec = parse('# lead\npos p  # tail\nlexicon l { "#" -> H }\n')
    assert [(c.text, c.line, c.trailing) for c in spec.comments] == [("# lead", 1, False), ("# tail", 2, True)]


def test_every_syntax_error_is_reported_with_location_and_expected_tokens():
    source = 'main chars\nlexicon x {\n  "a" -> \n}\npos p (tagset=)\nfeed p as context\nlag q = p by x chars\n'
    with pytest.raises(SpecError) as err:
        parse(source, "x.axes")
    diags = err.value.diagnostics
    assert [(d.loc.line, d.loc.column) for d in diags] == [(4, 1), (5, 15), (7, 14)]
    assert diags[0].message == "unexpected '}'"
    assert "a name" in diags[0].hint and 'a "string"' in diags[0].hint
    assert diags[2].hint == "expected a whole number"
    rendered = err.value.render()
    assert "x.axes:7:14: error: unexpected 'x'" in rendered
    assert "    lag q = p by x chars\n                 ^" in rendered


def test_unexpected_character_and_end_of_file():
    with pytest.raises(SpecError) as err:
        parse("rules r {\n when char ? \"a\" -> A\n}")
    assert err.value.diagnostics[0].message == "unexpected character '?'"
    assert "an operator" in err.value.diagnostics[0].hint
    with pytest.raises(SpecError) as err:
        parse("pos p (", "e.axes")
    d = err.value.diagnostics[0]
    assert d.message == "unexpected end of file" and (d.loc.line, d.loc.column) == (1, 8)


def test_bad_string_escape_is_located():
    with pytest.raises(SpecError) as err:
        parse('lexicon x { "a\\N{nope}" -> A }')
    d = err.value.diagnostics[0]
    assert d.message.startswith("invalid string literal") and d.loc.column == 13


def test_keywords_are_still_usable_as_names_where_unambiguous():
    spec = parse("pos as\nfeed as as context")
    assert spec.statements[1].axis == n.Ref("as")

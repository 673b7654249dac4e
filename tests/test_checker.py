"""The checker: includes, names, references, ordering, options and feeds."""

import pytest

from grid_dsl import SpecError, load_spec, loads_spec


def errors(spec: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(SpecError) as err:
        loads_spec(spec, "c.axes")
    return [(d.loc.line, d.loc.column, d.message, d.hint) for d in err.value.diagnostics]


def test_axes_come_after_the_axes_they_read():
    plan = loads_spec("lag l = w after t\ngroup t = tokens\nposition p = w\ngroup w = words within t")
    order = plan.names
    assert order.index("t") < order.index("w") < order.index("l")
    assert order.index("w") < order.index("p")


def test_includes_are_relative_to_the_including_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "base.axes").write_text('include "words.axes"\ngroup t = tokens\n')
    (tmp_path / "lib" / "words.axes").write_text("group w = words\n")
    (tmp_path / "main.axes").write_text('include "lib/base.axes"\nlag l = w after t\nfeed l as context\n')
    plan = load_spec(tmp_path / "main.axes")
    assert set(plan.names) == {"w", "t", "l"}
    assert list(plan.sources) == [str(tmp_path / "main.axes"), str(tmp_path / "lib" / "base.axes"),
                                  str(tmp_path / "lib" / "words.axes")]


def test_include_cycle_names_the_cycle(tmp_path):
    (tmp_path / "a.axes").write_text('include "b.axes"\n')
    (tmp_path / "b.axes").write_text('group w = words\ninclude "a.axes"\n')
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "a.axes")
    d = err.value.diagnostics[0]
    assert d.message == "include cycle: a.axes -> b.axes -> a.axes"
    assert (d.loc.file, d.loc.line) == (str(tmp_path / "b.axes"), 2)


def test_missing_include_is_located(tmp_path):
    (tmp_path / "a.axes").write_text('group w = words\ninclude "nope.axes"\n')
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "a.axes")
    d = err.value.diagnostics[0]
    assert d.message.startswith("included file not found") and (d.loc.line, d.loc.column) == (2, 9)


def test_errors_in_an_included_file_point_into_that_file(tmp_path):
    (tmp_path / "bad.axes").write_text("group w = words\ngroup x = matches /a(/\n")
    (tmp_path / "a.axes").write_text('include "bad.axes"\n')
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "a.axes")
    d = err.value.diagnostics[0]
    assert (d.loc.file, d.loc.line, d.loc.column) == (str(tmp_path / "bad.axes"), 2, 22)
    assert "    group x = matches /a(/" in err.value.render()


def test_duplicate_names_point_at_the_first_declaration():
    [(line, col, message, hint)] = errors("group w = words\n\ngroup w = tokens")
    assert (line, col, message) == (3, 1, "duplicate axis name 'w'")
    assert hint == "first declared at c.axes:1:1; rename one"


def test_unknown_reference_suggests_a_name():
    [(line, col, message, hint)] = errors("group words = words\nposition p = wrods")
    assert (line, col, message, hint) == (2, 14, "unknown axis 'wrods'", "did you mean 'words'?")


def test_reference_cycle_is_named():
    [(line, _, message, _)] = errors("group t = tokens\nlag a = b by 1 chars\nlag b = c by 1 chars\nlag c = a by 1 chars")
    assert message.startswith("reference cycle: ")
    cycle = message.removeprefix("reference cycle: ").split(" -> ")
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}


def test_every_reference_cycle_is_reported():  # the fuzzer found the second one crashing the checker
    found = errors("lag a = b by 1 chars\nlag b = a by 1 chars\nlag c = d by 1 chars\nlag d = c by 1 chars\ngroup w = words\n")
    assert [message.split(":")[0] for _, _, message, _ in found] == ["reference cycle", "reference cycle"]


def test_all_errors_are_reported_not_only_the_first():
    found = errors(
        "group w = words (lable=X)\n"
        "group s = split /[/\n"
        "position p = nowhere\n"
        "feed w as contxt\n"
    )
    assert [(line, message) for line, _, message, _ in found] == [
        (1, "unknown option 'lable'"),
        (2, "invalid regular expression: unterminated character set"),
        (3, "unknown axis 'nowhere'"),
        (4, "unknown mode 'contxt'"),
    ]
    assert found[0][3] == "did you mean 'label'?"


def test_a_context_mode_error_comes_in_the_same_report_as_the_others():
    """The feed checks run beside the axes' own errors, not after they are fixed."""
    found = errors(
        "group w = words (bogus=1)\n"
        'lexicon x { "a" -> A }\n'
        "feed x as context\n"
        "position q = nope\n"
    )
    assert [(line, message.split(",")[0]) for line, _, message, _ in found] == [
        (1, "unknown option 'bogus'"),
        (3, "context mode needs a causal axis"),
        (4, "unknown axis 'nope'"),
    ]


def test_option_values_are_checked():
    [(_, col, message, _)] = errors("group w = words (encoding=fancy)")
    assert message == "option 'encoding': expected one of span, bio, not 'fancy'" and col == 27
    [(_, _, message, _)] = errors("position p = w (max=2.5)\ngroup w = words")
    assert message == "option 'max': expected a whole number"


def test_context_mode_is_refused_for_a_non_causal_axis():
    [(line, _, message, hint)] = errors("group s = paragraphs\nfeed s as context")
    assert line == 2 and message.startswith("context mode needs a causal axis, and 's' looks ahead: unbounded")
    assert "feed s as predict" in hint and "(force)" in hint and "leaky" in hint


def test_forced_context_makes_the_run_oracle():
    plan = loads_spec("group s = paragraphs\nfeed s as context (force)")
    assert plan.feed("s").mode == "oracle" and plan.feed("s").forced and plan.leaky
    assert "forced context makes this run oracle" in plan.warnings[0].message


def test_modes_and_feed_options():
    plan = loads_spec("group w = words\ngroup s = paragraphs\nfeed w as context\nfeed s as predict (weight=0.25, dim=8)")
    assert not plan.leaky
    assert (plan.feed("s").weight, plan.feed("s").dim, plan.feed("w").dtype) == (0.25, 8, "uint8")
    assert plan.feed("nothing") is None


def test_vocabulary_must_fit_the_declared_dtype():
    spec = "group w = words\nposition a = w (max=300)\nfeed a as predict (dtype=uint8)"
    [(line, _, message, _)] = errors(spec)
    assert line == 3 and message == "axis 'a' has 302 labels (with id 0), which do not fit uint8"
    assert loads_spec(spec.replace("uint8", "uint16")).feed("a").dtype == "uint16"
    assert loads_spec(spec.replace(" (dtype=uint8)", "")).feed("a").dtype == "uint16"


def test_feeding_twice_and_main_twice_are_errors():
    found = errors("main chars\nmain bytes\ngroup w = words\nfeed w as predict\nfeed w as oracle")
    assert [m for _, _, m, _ in found] == ["the main axis is declared twice", "axis 'w' is fed twice"]


def test_spec_hash_depends_on_text_not_on_paths(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "s.axes").write_text("group w = words\n")
    h1, h2 = (load_spec(tmp_path / d / "s.axes").spec_hash for d in ("a", "b"))
    assert h1 == h2 != loads_spec("group w = tokens").spec_hash


@pytest.mark.parametrize("spec, line, message", [
    ("group w = words\nposition p = w (max=10000000)", 2, "option 'max': must be at most 65535"),
    ("group w = words\nposition p = w (max=18446744073709551617)", 2, "option 'max': must be at most 65535"),
    ("group w = words\nfeed w as predict (weight=1" + "0" * 400 + ")", 2, "option 'weight': must be at most 1000"),
    ("group w = words\nfeed w as predict (dim=99999999)", 2, "option 'dim': must be at most 4096"),
])
def test_numbers_a_spec_sizes_are_bounded_before_anything_is_built(spec, line, message):
    """A huge cap or weight is a located error, not a MemoryError or an
    OverflowError traceback."""
    [(found_line, _, found, _)] = errors(spec)
    assert (found_line, found) == (line, message)


def test_includes_come_through_a_loader():
    from pathlib import Path

    from grid_dsl.data.checker import StoredSources, check
    from grid_dsl.language.parser import parse

    files = {"/specs/root.axes": 'include "lib/words.axes"\nposition p = w\nfeed p as context\n',
             "/specs/lib/words.axes": "group w = words\n"}
    plan = check(parse(files["/specs/root.axes"], "/specs/root.axes"), load=StoredSources(files))
    assert plan.names == ("w", "p") and list(plan.sources) == list(files)
    asked = []
    with pytest.raises(SpecError, match="included file not found: /specs/lib/words.axes"):
        check(parse(files["/specs/root.axes"], "/specs/root.axes"), load=lambda path: asked.append(path))
    assert asked == [Path("/specs/lib/words.axes")]


@pytest.mark.parametrize("spec, where, message", [
    ("group w = words\nlag x = w by 100001 chars\n", (2, 1), "a lag of 100001 chars is beyond the 100,000 a lag may move a stream"),
    ("group w = words\nlag x = w by -99999999999999999999999 chars\n", (2, 1), "is beyond the 100,000 a lag may move"),
    ('rules r { when char[-200000] == "a" -> A }\n', (1, 20), "an offset of -200000 is beyond the 100,000 characters"),
    ("group w = words\nrules r { when w[999999999] == WORD -> A }\n", (2, 17), "an offset of 999999999 is beyond"),
    ("group w = words\nposition p = w (max=60000)\nproduct q = p * p\n", (3, 1),
     "product of 60,002 x 60,002 labels would have 3,600,240,003 labels, more than an axis may have (1,000,000)"),
])
def test_what_one_line_may_size_is_bounded_before_it_is_built(spec, where, message):
    found = errors(spec)
    assert any((line, col) == where and message in text for line, col, text, _ in found), found


def test_the_fed_axes_together_have_a_ceiling():
    spec = "".join(f"group g{i} = words\nposition p{i} = g{i} (max=65535)\n" for i in range(31))
    spec += "".join(f"feed p{i} as context\n" for i in range(31))
    found = errors(spec)
    assert any("the fed axes have 2,031,647 labels in all, more than 2,000,000" in text for _, _, text, _ in found), found

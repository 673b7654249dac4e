"""Corpus sources (grid_dsl/data/corpora.py, grid_dsl/data/gutenberg.py): Gutenberg
cleaning and story splitting checked on the real files, folders in the Kaggle
layout, annotation files, fingerprints, and every bad input a user can give."""

import hashlib
import json
from pathlib import Path

import pytest
from conftest import SHARED

from grid_dsl.data import gutenberg
from grid_dsl.data.corpora import SourceDocument, fingerprint_documents, open_corpus
from grid_dsl.language.diagnostics import SpecError, UserError

CORPORA = SHARED / "corpora"


def shared(name: str) -> Path:
    path = CORPORA / name
    if not path.exists():
        pytest.skip(f"{path} not found; set MULTIGRID_SHARED_DATA to the shared data folder")
    return path


def documents(ref, **options) -> list[SourceDocument]:
    return list(open_corpus(ref, **options).documents())


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))  # exactly these characters (no newline translation)
    return path


# ------------------------------------------------------------------ the real Gutenberg files


def test_grimm_splits_into_its_62_stories():
    docs = documents(shared("grimms_fairy_tales.txt"))
    assert len(docs) == 62
    assert docs[0].name == "THE GOLDEN BIRD"
    assert docs[0].text.startswith("THE GOLDEN BIRD\n\nA certain king had a beautiful garden, and in the garden stood a tree\n")
    assert docs[1].name == "HANS IN LUCK"
    assert docs[-1].name == "SNOW-WHITE AND ROSE-RED"
    assert docs[-1].text.endswith("and every year bore the most beautiful\nroses, white and red.\n")
    assert sum(len(d.text) for d in docs) == 517_367
    for doc in docs:
        assert "\r" not in doc.text and "\ufeff" not in doc.text
        assert "Gutenberg" not in doc.text and "PREPARER'S NOTE" not in doc.text
        assert doc.text.startswith(doc.name + "\n\n")
        assert doc.text.endswith("\n") and not doc.text.endswith("\n\n")
        assert doc.annotations is None


def test_grimm_stories_are_those_of_its_table_of_contents():
    raw = shared("grimms_fairy_tales.txt").read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    contents = raw[raw.index("CONTENTS:"):raw.index("THE BROTHERS GRIMM FAIRY TALES")]
    listed = [line.strip() for line in contents.splitlines()[1:]
              if line.startswith("     ") and not line.startswith("      ") and line.strip().isupper()]
    parts = {"FIRST STORY", "SECOND STORY"}  # the two parts of THE WEDDING OF MRS FOX
    assert [d.name for d in documents(shared("grimms_fairy_tales.txt"))] == [t for t in listed if t not in parts]


def test_grimm_sub_headings_and_back_matter():
    docs = {d.name: d.text for d in documents(shared("grimms_fairy_tales.txt"))}
    chanticleer = docs["THE ADVENTURES OF CHANTICLEER AND PARTLET"]
    assert "\n1. HOW THEY WENT TO THE MOUNTAINS TO EAT NUTS\n" in chanticleer
    assert "\n3. HOW PARTLET DIED AND WAS BURIED, AND HOW CHANTICLEER DIED OF GRIEF\n" in chanticleer
    assert "\nSECOND STORY\n" in docs["THE WEDDING OF MRS FOX"]
    # The note on the brothers after "*****" belongs to no story.
    assert not any("Jacob (1785-1863)" in text for text in docs.values())


def test_andersen_splits_into_126_stories():
    docs = documents(shared("andersen_fairy_tales.txt"))
    assert len(docs) == 126
    assert [d.name for d in docs[:3]] == ["BY THE ALMSHOUSE WINDOW", "THE ANGEL", "ANNE LISBETH"]
    assert docs[-1].name == "THE STORY OF THE YEAR"
    assert docs[0].text.startswith("BY THE ALMSHOUSE WINDOW\n\nNear the grass-covered rampart")
    assert docs[-1].text.endswith('"and it is\nvery beautiful; but it is not according to the calendar, therefore, it\nmust be all wrong."\n')
    assert "\nXV. THE CONCLUSION\n" in {d.name: d.text for d in docs}["THE ICE MAIDEN"]
    assert "\nTHIRTY-SECOND EVENING\n" in {d.name: d.text for d in docs}["WHAT THE MOON SAW"]
    assert not any("PROJECT GUTENBERG" in d.text.upper() for d in docs)


def test_tinyshakespeare_is_one_document_exactly_as_in_the_file():
    path = shared("tinyshakespeare.txt")
    corpus = open_corpus(path)
    (doc,) = corpus.documents()
    assert corpus.name == "tinyshakespeare"
    assert doc.name == "tinyshakespeare.txt"
    assert doc.text == path.read_text(encoding="utf-8") and len(doc.text) == 1_115_394
    assert doc.text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")


def test_documents_can_be_read_again_in_the_same_order():
    corpus = open_corpus(shared("grimms_fairy_tales.txt"))
    assert list(corpus.documents()) == list(corpus.documents())


# ------------------------------------------------------------------ cleaning


def wrapped(body: str, wording: str = "THE", title: str = "A BOOK") -> str:
    return (f"\ufeffThe Project Gutenberg eBook of {title}\r\n\r\n*** START OF {wording} PROJECT GUTENBERG EBOOK "
            f"{title} ***\r\n{body}*** END OF {wording} PROJECT GUTENBERG EBOOK {title} ***\r\n\r\nLicence text.\r\n")


@pytest.mark.parametrize("wording", ["THIS", "THE"])
def test_clean_cuts_header_and_licence_in_both_wordings(wording):
    raw = wrapped("\r\n\r\nOnce upon a time.\r\nThe end.\r\n\r\n\r\n", wording)
    assert gutenberg.is_gutenberg(raw)
    assert gutenberg.clean(raw) == "Once upon a time.\nThe end.\n"


def test_clean_handles_one_marker_a_wrapped_start_line_and_the_closing_line():
    assert gutenberg.clean("Story text.\n\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nlicence") == "Story text.\n"
    assert gutenberg.clean("header\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nStory.\n") == "Story.\n"
    wrapped_start = "h\n*** START OF THE PROJECT GUTENBERG EBOOK THE VERY LONG\nTITLE ***\nStory.\n"
    assert gutenberg.clean(wrapped_start) == "Story.\n"
    closing = wrapped("Story.\n\nEnd of the Project Gutenberg EBook of A Book, by Someone\n\n")
    assert gutenberg.clean(closing) == "Story.\n"


def test_markers_only_count_at_the_start_of_a_line():
    text = "He said *** START OF THE PROJECT GUTENBERG EBOOK and went on.\n"
    assert not gutenberg.is_gutenberg(text)
    assert not gutenberg.is_gutenberg("A plain story.\n")


# ------------------------------------------------------------------ splitting


BOOK_WITH_CONTENTS = """THE BOOK

CONTENTS:

     THE FIRST TALE
     THE SECOND TALE.



THE BOOK



THE FIRST TALE

Once there was a king.


1. A PART OF IT

And so on.



THE SECOND TALE

The end came.


*****


A note on the author.
"""


def test_split_follows_the_table_of_contents():
    stories = gutenberg.split_stories(BOOK_WITH_CONTENTS)
    assert [s.title for s in stories] == ["THE FIRST TALE", "THE SECOND TALE"]
    assert stories[0].text == "THE FIRST TALE\n\nOnce there was a king.\n\n\n1. A PART OF IT\n\nAnd so on.\n"
    assert stories[1].text == "THE SECOND TALE\n\nThe end came.\n"  # the back matter is dropped


def test_a_table_of_contents_that_lists_no_heading_is_passed_over():
    book = BOOK_WITH_CONTENTS.replace("     THE FIRST TALE\n     THE SECOND TALE.", "     Tale one ... 5\n     Tale two ... 9")
    stories = gutenberg.split_stories(book)
    assert [s.title for s in stories] == ["THE FIRST TALE", "THE SECOND TALE"]  # "THE BOOK" has no body


def test_split_without_contents_takes_every_heading_with_a_body():
    book = "OPENING\n\nFirst.\n\n\n\nTHE COLLECTION\n\n\n\nSECOND ONE\n\nSecond.\n\n\n\nlower case title\n\nStill second.\n"
    stories = gutenberg.split_stories(book)
    assert [s.title for s in stories] == ["OPENING", "SECOND ONE"]
    assert stories[1].text == "SECOND ONE\n\nSecond.\n\n\n\nlower case title\n\nStill second.\n"


def test_a_book_with_fewer_than_two_stories_is_not_split(tmp_path):
    assert gutenberg.split_stories("ONLY ONE\n\nText.\n") == []
    path = write(tmp_path / "novel.txt", wrapped("\r\nONLY ONE\r\n\r\nText of the novel.\r\n"))
    (doc,) = documents(path)
    assert doc == SourceDocument("novel.txt", "ONLY ONE\n\nText of the novel.\n")


def test_enormous_single_lines_are_fine(tmp_path):
    line = "word " * 2_000_000  # 10 MB, no line end
    (doc,) = documents(write(tmp_path / "one_line.txt", line))
    assert doc.text == line
    book = wrapped(f"A TALE\r\n\r\n{line}\r\n\r\n\r\n\r\nB TALE\r\n\r\n{line}\r\n")
    docs = documents(write(tmp_path / "book.txt", book))
    assert [d.name for d in docs] == ["A TALE", "B TALE"]
    assert docs[1].text == f"B TALE\n\n{line.rstrip()}\n"


# ------------------------------------------------------------------ folders


def test_folder_in_the_kaggle_layout(tmp_path):
    folder = tmp_path / "fairy_tales"
    write(folder / "b.txt", "Bee.\r\nStill CRLF.\r\n")
    write(folder / "a.txt", "\ufeffAy.\n")
    write(folder / "10.txt", "Ten.\n")
    write(folder / "2.txt", "Two.\n")
    write(folder / "cover.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF")
    write(folder / "notes.md", "not a story")
    write(folder / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    write(folder / "._a.txt", b"\x00\x05\x16\x07\x00")  # a macOS resource fork: hidden, skipped
    write(folder / "sub" / "c.txt", "in a sub-folder: not read")
    corpus = open_corpus(folder)
    assert corpus.name == "fairy_tales"
    assert [(d.name, d.text) for d in corpus.documents()] == [
        ("10.txt", "Ten.\n"), ("2.txt", "Two.\n"), ("a.txt", "Ay.\n"), ("b.txt", "Bee.\r\nStill CRLF.\r\n")]


def test_a_gutenberg_file_in_a_folder_is_cleaned_not_split(tmp_path):
    write(tmp_path / "c" / "book.txt", wrapped("A TALE\r\n\r\nOne.\r\n\r\n\r\n\r\nB TALE\r\n\r\nTwo.\r\n"))
    (doc,) = documents(tmp_path / "c")
    assert doc == SourceDocument("book.txt", "A TALE\n\nOne.\n\n\n\nB TALE\n\nTwo.\n")


# ------------------------------------------------------------------ annotations


def spans(path: Path, *records: dict) -> None:
    write(path, "".join(json.dumps(r) + "\n" for r in records))


def test_annotations_beside_a_text_file(tmp_path):
    text = write(tmp_path / "story.txt", "Hans met the witch.\n")
    spans(tmp_path / "story.txt.spans.jsonl",
          {"layer": "role", "start": 0, "end": 4, "label": "HERO"},
          {"doc": 0, "layer": "role", "start": 13, "end": 18, "label": "VILLAIN"})
    (doc,) = documents(text)
    assert doc.annotations == {"role": [(0, 4, "HERO"), (13, 18, "VILLAIN")]}


def test_annotations_of_a_split_collection_by_story_index_or_title(tmp_path):
    path = write(tmp_path / "book.txt", wrapped("A TALE\r\n\r\nOne.\r\n\r\n\r\n\r\nB TALE\r\n\r\nTwo.\r\n"))
    spans(tmp_path / "book.txt.spans.jsonl",
          {"doc": 1, "layer": "stage", "start": 8, "end": 12, "label": "END"},
          {"doc": "B TALE", "layer": "stage", "start": 0, "end": 6, "label": "TITLE"})
    first, second = documents(path)
    assert first.annotations is None
    assert second.annotations == {"stage": [(8, 12, "END"), (0, 6, "TITLE")]}
    assert second.text[8:12] == "Two."


def test_annotations_in_a_folder(tmp_path):
    write(tmp_path / "f" / "a.txt", "Ay.\n")
    write(tmp_path / "f" / "b.txt", "Bee.\n")
    spans(tmp_path / "f" / "b.txt.spans.jsonl", {"doc": "b.txt", "layer": "x", "start": 0, "end": 3, "label": "L"})
    a, b = documents(tmp_path / "f")
    assert (a.annotations, b.annotations) == (None, {"x": [(0, 3, "L")]})


def test_bad_annotations_name_the_file(tmp_path):
    text = write(tmp_path / "story.txt", "Short.\n")
    sidecar = tmp_path / "story.txt.spans.jsonl"
    spans(sidecar, {"doc": 3, "layer": "x", "start": 0, "end": 1, "label": "L"})
    with pytest.raises(UserError, match=r"story.txt.spans.jsonl: spans for document 3, but story.txt gives 1 document"):
        documents(text)
    spans(sidecar, {"layer": "x", "start": 2, "end": 99, "label": "L"})
    with pytest.raises(UserError, match=r"'x' span \(2, 99\) of document 0 ends past the end of its text \(7 characters\)"):
        documents(text)
    write(sidecar, '{"layer": "x", "start": 5}\n')
    with pytest.raises(SpecError, match="bad annotation record"):
        documents(text)


# ------------------------------------------------------------------ fingerprints


def test_fingerprint_is_sha256_over_names_texts_and_annotations():
    docs = [SourceDocument("a", "xy"), SourceDocument("b", "é", {"l": [(0, 1, "L")]})]
    expected = hashlib.sha256(b"multigrid-corpus/1\n" + b"1\na2\nxy0\n" + b"1\nb1\n\xc3\xa9" + b'20\n{"l": [[0, 1, "L"]]}')
    assert fingerprint_documents(docs) == expected.hexdigest()


def test_fingerprint_follows_content_not_location(tmp_path):
    for folder in ("one", "two"):
        write(tmp_path / folder / "a.txt", "Ay.\n")
        write(tmp_path / folder / "b.txt", "Bee.\n")
    one, two = open_corpus(tmp_path / "one"), open_corpus(tmp_path / "two")
    before = one.fingerprint()
    assert before == two.fingerprint() == one.fingerprint()
    assert len(before) == 64
    write(tmp_path / "two" / "b.txt", "Bee!\n")
    assert two.fingerprint() != before
    (tmp_path / "one" / "b.txt").rename(tmp_path / "one" / "c.txt")
    assert open_corpus(tmp_path / "one").fingerprint() != before


def test_fingerprint_changes_with_annotations(tmp_path):
    write(tmp_path / "f" / "a.txt", "Ay.\n")
    plain = open_corpus(tmp_path / "f").fingerprint()
    spans(tmp_path / "f" / "a.txt.spans.jsonl", {"layer": "x", "start": 0, "end": 1, "label": "L"})
    annotated = open_corpus(tmp_path / "f").fingerprint()
    spans(tmp_path / "f" / "a.txt.spans.jsonl", {"layer": "x", "start": 0, "end": 2, "label": "L"})
    assert len({plain, annotated, open_corpus(tmp_path / "f").fingerprint()}) == 3


# ------------------------------------------------------------------ bad input


def test_non_utf8_bytes_report_the_file_and_byte_offset(tmp_path):
    path = write(tmp_path / "latin.txt", "Line one.\nCaf\xe9 au lait.\n".encode("latin-1"))
    with pytest.raises(UserError) as err:
        documents(path)
    message = str(err.value)
    assert message.startswith(f"{path}: not valid utf-8 text at byte offset 13 (line 2): byte 0xe9")
    assert "encoding='latin-1'" in message and "--encoding" in message and "errors='replace'" in message
    (doc,) = documents(path, encoding="latin-1")
    assert doc.text == "Line one.\nCafé au lait.\n"
    (doc,) = documents(path, errors="replace")
    assert doc.text == "Line one.\nCaf\ufffd au lait.\n"


def test_non_utf8_bytes_in_a_folder_name_the_file(tmp_path):
    write(tmp_path / "f" / "a.txt", "fine\n")
    bad = write(tmp_path / "f" / "b.txt", b"ok\n\x80")
    with pytest.raises(UserError, match=f"^{bad}: not valid utf-8 text at byte offset 3 \\(line 2\\)"):
        documents(tmp_path / "f")


def test_empty_files_and_folders(tmp_path):
    empty = write(tmp_path / "empty.txt", b"")
    with pytest.raises(UserError, match=f"corpus file {empty} is empty"):
        open_corpus(empty)
    blank = write(tmp_path / "blank.txt", " \n\t\r\n")
    with pytest.raises(UserError, match=f"corpus file {blank} holds only white space"):
        documents(blank)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(UserError, match="the corpus folder .*nothing is empty: put one .txt file per document"):
        open_corpus(tmp_path / "nothing")
    write(tmp_path / "with_empty" / "a.txt", "A.\n")
    write(tmp_path / "with_empty" / "b.txt", b"")
    with pytest.raises(UserError, match=r"corpus file .*with_empty/b.txt is empty"):
        open_corpus(tmp_path / "with_empty")


def test_a_folder_without_text_files(tmp_path):
    write(tmp_path / "pics" / "cover.jpg", b"\xff\xd8")
    write(tmp_path / "pics" / "map.png", b"\x89PNG")
    with pytest.raises(UserError, match=r"pics has no .txt files \(it holds cover.jpg, map.png\)"):
        open_corpus(tmp_path / "pics")


def test_a_binary_file_named_txt(tmp_path):
    write(tmp_path / "f" / "a.txt", "fine\n")
    bad = write(tmp_path / "f" / "z.txt", b"GIF89a\x00\x01")
    with pytest.raises(UserError, match=f"{bad} looks like a binary file, not text \\(a NUL character at byte offset 6\\)"):
        documents(tmp_path / "f")


def test_paths_and_names_that_do_not_exist(tmp_path):
    write(tmp_path / "grimms_fairy_tales.txt", "x\n")
    with pytest.raises(UserError, match="corpus not found: no file or folder .*grims_fairy_tales.txt; did you mean 'grimms_fairy_tales.txt'"):
        open_corpus(tmp_path / "grims_fairy_tales.txt")
    with pytest.raises(UserError, match=r"corpus not found: no file or folder .*/no/such/dir/a.txt$"):
        open_corpus(tmp_path / "no" / "such" / "dir" / "a.txt")
    with pytest.raises(UserError, match=r"unknown corpus 'grim': no such file or folder, and not a built-in corpus "
                                        r"\(andersen, grimm, tinyshakespeare, synthetic, addition, multiplication, dyck\); did you mean 'grimm'\?"):
        open_corpus("grim")
    with pytest.raises(UserError, match=r"unknown corpus 'zzz'.*synthetic, addition, multiplication, dyck\)$"):
        open_corpus("zzz")


def test_bad_encoding_options(tmp_path):
    path = write(tmp_path / "a.txt", "A.\n")
    with pytest.raises(UserError, match="unknown text encoding 'utf-9'"):
        open_corpus(path, encoding="utf-9")
    with pytest.raises(UserError, match="unknown errors handler 'skip'"):
        open_corpus(path, errors="skip")
    with pytest.raises(UserError, match="unknown text encoding 'rot13'"):
        open_corpus(path, encoding="rot13")
    with pytest.raises(UserError, match="no corpus given"):
        open_corpus("")


def test_a_gutenberg_file_with_nothing_inside(tmp_path):
    path = write(tmp_path / "hollow.txt", wrapped("\r\n\r\n"))
    with pytest.raises(UserError, match="hollow.txt: nothing between the Project Gutenberg START and END markers"):
        documents(path)


# ------------------------------------------------------------------ synthetic


@pytest.mark.parametrize("ref, message", [
    ("synthetic:stries=3", r"unknown option 'stries' in corpus 'synthetic:stries=3'; did you mean 'stories'\?"),
    ("synthetic:stories=many", "stories must be a whole number, got 'many'"),
    ("synthetic:stories=0", "stories must be at least 1"),
])
def test_bad_synthetic_options(ref, message):
    with pytest.raises(UserError, match=message):
        open_corpus(ref)


def test_synthetic_corpus_route():
    synthetic = pytest.importorskip("grid_dsl.data.synthetic", reason="grid_dsl/data/synthetic.py is not written yet")
    corpus = open_corpus("synthetic:stories=3,seed=7")
    expected = synthetic.synthetic_corpus(3, 7)
    assert [(d.name, d.text) for d in corpus.documents()] == [(d.name, d.text) for d in expected.documents()]
    assert len(list(corpus.documents())) == 3
    default = open_corpus("synthetic")
    assert default.fingerprint() == synthetic.synthetic_corpus().fingerprint()


def test_synthetic_story_files_load_back_as_a_folder(tmp_path):
    synthetic = pytest.importorskip("grid_dsl.data.synthetic", reason="grid_dsl/data/synthetic.py is not written yet")
    corpus = synthetic.synthetic_corpus(3, 7)
    synthetic.write_story_files(corpus, tmp_path / "stories")
    loaded = list(open_corpus(tmp_path / "stories").documents())
    assert [(d.name, d.text, d.annotations) for d in loaded] == [
        (d.name + ".txt", d.text, d.annotations or None) for d in corpus.documents()]
    assert any(d.annotations for d in loaded)

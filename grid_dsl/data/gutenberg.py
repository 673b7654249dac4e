"""Project Gutenberg files: the book without its wrapper, and its stories.

A file downloaded from gutenberg.org wraps the book in a header and a licence:

    The Project Gutenberg EBook of Grimms' Fairy Tales, by The Brothers Grimm
    ...
    *** START OF THIS PROJECT GUTENBERG EBOOK GRIMMS' FAIRY TALES ***
    <the book>
    *** END OF THIS PROJECT GUTENBERG EBOOK GRIMMS' FAIRY TALES ***
    <licence>

`clean` keeps the book only: it drops a leading byte-order mark, turns CRLF
line ends into LF, cuts everything up to the end of the START line and from
the END line on (the old wording "THIS PROJECT GUTENBERG EBOOK" and the new
"THE PROJECT GUTENBERG EBOOK" both count; a file with only one of the two
markers is cut on that side), drops the closing "End of Project Gutenberg's
..." line of older files and the blank lines around the book.

`split_stories` cuts a collection into its stories where the layout shows
them. A *heading* is a short line without lower-case letters that follows
three or more blank lines (or starts the book) and is followed by a blank
line; sub-headings inside a story ("1. HOW THEY WENT TO THE MOUNTAINS",
"FIRST EVENING") follow fewer blank lines and stay in their story. Then:

* if the book has a table of contents (a line "CONTENTS", the entries below
  it up to the next heading), the stories are the headings after it whose
  title is listed in it, so that front matter ("PREPARER'S NOTE", the book's
  own title) is not taken for a story;
* otherwise (or when fewer than two headings are listed) every heading
  (after the contents, if any) starts a story, except a heading with
  nothing under it before the next one (a book or part title);
* text before the first story is front matter, and a row of asterisks in the
  last story ends it (what follows is back matter, e.g. Grimm's note on the
  brothers); neither belongs to any story and both are dropped;
* a book where fewer than two stories are found is not split.

Each story's text starts with its title line. On the copies the project
tests against, Grimms' Fairy Tales (eBook #2591) splits into 62 stories from
THE GOLDEN BIRD to SNOW-WHITE AND ROSE-RED and Andersen's Fairy Tales (eBook
#27200) into 126 stories from BY THE ALMSHOUSE WINDOW to THE STORY OF THE
YEAR.
"""

from __future__ import annotations

import re

import attrs

# The markers start a line; the patterns leave out `^`, which makes a search
# several times slower, and `_marker` checks the line start instead.
START = re.compile(r"\*\*\* ?START OF (?:THIS|THE) PROJECT GUTENBERG E-?BOOK", re.I)
END = re.compile(r"\*\*\* ?END OF (?:THIS|THE) PROJECT GUTENBERG E-?BOOK", re.I)
CLOSING_LINE = re.compile(r"^[ \t]*End of (?:the )?Project Gutenberg", re.M | re.I)
BLANK_RUN = re.compile(r"\n(?:[ \t]*\n){3,}")  # a line end, then three or more blank lines
CONTENTS = re.compile(r"^[ \t]*(?:TABLE OF )?CONTENTS[.:]?[ \t]*$", re.M | re.I)  # a line of its own
ASTERISK_ROW = re.compile(r"^[ \t]*\*(?:[ \t]*\*){2,}[ \t]*$", re.M)
MAX_TITLE = 100  # characters; a longer line is a paragraph, not a title
CLOSING_WINDOW = 1000  # the "End of Project Gutenberg's ..." line sits this close to the END marker


@attrs.frozen
class Story:
    title: str  # the heading line, stripped
    text: str  # the story, its title line first, ending with one line end


def is_gutenberg(text: str) -> bool:
    """Whether `text` carries a Project Gutenberg START or END marker."""
    return _marker(START, text) is not None or _marker(END, text) is not None


def clean(text: str) -> str:
    """The book inside a Project Gutenberg file (see the module docstring)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    begin, finish = 0, len(text)
    start = _marker(START, text)
    if start:
        # The START line may wrap a long title onto the next line: the book
        # begins after the line that closes the marker with "***".
        close = text.find("***", start.end(), start.end() + 500)
        line_end = text.find("\n", close if close >= 0 else start.end())
        begin = len(text) if line_end < 0 else line_end + 1
    end = _marker(END, text, begin)
    if end:
        finish = end.start()
    closing = CLOSING_LINE.search(text, max(begin, finish - CLOSING_WINDOW), finish)
    if closing:
        finish = closing.start()
    return _strip_blank_lines(text[begin:finish])


def split_stories(book: str) -> list[Story]:
    """The stories of a cleaned book, or [] when its layout shows fewer than two."""
    headings = _headings(book)
    starts = []
    contents = CONTENTS.search(book)
    if contents:
        headings = [h for h in headings if h[0] > contents.end()]
        listed_to = headings[0][0] if headings else len(book)
        listed = {_normalise(line) for line in book[contents.end():listed_to].splitlines() if line.strip()}
        starts = [h for h in headings if _normalise(h[2]) in listed]
    if len(starts) < 2:  # no table of contents, or one that does not give the headings
        starts = [h for i, h in enumerate(headings) if _has_body(book, h, headings[i + 1:i + 2])]
    if len(starts) < 2:
        return []
    stories = []
    for i, (begin, _, title) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(book)
        text = book[begin:end]
        if i + 1 == len(starts):
            back_matter = ASTERISK_ROW.search(text)
            if back_matter:
                text = text[:back_matter.start()]
        stories.append(Story(title, _strip_blank_lines(text)))
    return stories


# ------------------------------------------------------------------ helpers


def _marker(pattern: re.Pattern, text: str, pos: int = 0) -> re.Match | None:
    """The first match of `pattern` at the start of a line, from `pos` on."""
    for match in pattern.finditer(text, pos):
        if match.start() == 0 or text[match.start() - 1] == "\n":
            return match
    return None


def _strip_blank_lines(text: str) -> str:
    """`text` without blank lines around it, ending with one line end ("" if blank)."""
    first = re.search(r"\S", text)
    if not first:
        return ""
    begin = text.rfind("\n", 0, first.start()) + 1
    return text[begin:].rstrip() + "\n"


def _headings(book: str) -> list[tuple[int, int, str]]:
    """(start of the line, end of the line, title) of every heading, in order."""
    candidates = [0] + [run.end() for run in BLANK_RUN.finditer(book)]
    found = []
    for begin in candidates:
        end = book.find("\n", begin, begin + MAX_TITLE + 2)
        if end < 0:
            continue
        title = book[begin:end].strip()
        after = book.find("\n", end + 1)
        next_line_blank = not book[end + 1:after if after >= 0 else len(book)].strip()
        if (title and not title.startswith("*") and next_line_blank
                and any(c.isupper() for c in title) and not any(c.islower() for c in title)):
            found.append((begin, end, title))
    return found


def _has_body(book: str, heading: tuple[int, int, str], following: list) -> bool:
    """Whether any text stands between `heading` and the next heading."""
    end = following[0][0] if following else len(book)
    return bool(book[heading[1]:end].strip())


def _normalise(line: str) -> str:
    """A title as a table of contents and a heading both give it."""
    line = " ".join(line.upper().split())
    return re.sub(r"[\s.:,0-9]+$", "", line)

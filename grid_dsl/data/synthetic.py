"""Synthetic fairy tales with planted structure: the built-in default corpus.

    >>> from grid_dsl.data.synthetic import synthetic_corpus
    >>> corpus = synthetic_corpus(stories=200, seed=0)
    >>> doc = next(iter(corpus.documents()))
    >>> sorted(doc.annotations)
    ['role', 'speaker', 'stage']

Each story has four characters in roles -- HERO, VILLAIN, HELPER, ROYAL --
and runs through four stages -- OPENING (the royal's trouble, the hero
introduced), QUEST (the journey, the helper's gift), TRIAL (the villain, one
or two tasks, the villain's defeat), RESOLUTION (the reward, the wedding).
Every story is one document: a title, then paragraphs of one line each,
separated by blank lines, with quoted dialogue ('"...," said the king.').

The planted structure, as annotation layers in raw-text character offsets:

* `role`: every mention of a character -- its name ("Hans", "King Otto"),
  its noun ("the witch"), or an introduction ("a poor miller's son") --
  labelled with its role. Pronouns are never used for characters in the
  narration, so these are all the mentions; names in the title and in
  dialogue ("Listen well, Hans") are mentions too, while "I", "you" and
  "my child" in dialogue are not.
* `stage`: one span per stage. The spans tile the document: the first
  starts at 0 (the title belongs to OPENING), each next one at the first
  character of its stage's first paragraph, the last ends at len(text);
  the blank lines between two stages belong to the stage before them.
* `speaker`: each quoted utterance, labelled with the role of who says it.
  A span is exactly the text between the quotation marks (its closing
  comma or stop included), so text[start - 1] == text[end] == '"'.

The structure is real -- it shapes the text, so a model gains by knowing it:
each role has its own adjectives, verbs, ways of moving and speech verbs
(the villain "crept closer in the dark" and "hissed", the helper "nodded
wisely" and "whispered"); each role talks its own way (decrees, threats,
advice, polite answers); each stage has its own sentence patterns and
words. Yet a name alone never gives the role away: the names are drawn
for every story from one pool shared by all roles, and some nouns ("old
woman", "stranger") belong to two roles, so a mention's role is known only
from its context -- which is what the GENERIC sentences of the lexicon
test: "{X} {X.act}." has the same shape for every role. (The royal's name
always carries its title, "King Otto", as "the king" carries its noun.)
Measured on 200 stories (tests/test_synthetic.py): the word after a bare
name tells 0.87 of the 1.39 bits of its role, the name itself 0.07; the
first word of an utterance tells 1.7 of the 1.9 bits of its speaker; a word
tells 0.63 bits about its stage.

Generation is seeded and deterministic on every machine and Python
version: story i of seed s draws from its own random.Random, seeded with an
integer derived from (s, i) by SHA-256, and uses only Random.random(),
whose sequence Python guarantees. Stories are written lazily, one per
document, so a corpus of any size streams in bounded memory (about 7 MB
of text a second on one core); the text is ASCII. The word lists and the
grammar are data in grid_dsl/data/synthetic_lexicon.py.

    python -m grid_dsl.data.synthetic DIR --stories 3 --seed 0

writes stories as DIR/story_000000.txt with their spans beside them in
story_000000.txt.spans.jsonl, the files `multigrid check --file` reads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import attrs

from grid_dsl.data import synthetic_lexicon as lex
from grid_dsl.data.documents import Corpus, SourceDocument
from grid_dsl.language.diagnostics import UserError

GENERATOR_VERSION = 1  # bump when a change to the grammar changes the stories
NAME_CHANCE = 0.5  # how often a plain mention {X} is the name rather than "the NOUN"
ROYAL_NAME_CHANCE = 0.3  # "King Otto" rather than "the king"
SECOND_LINE_CHANCE = 0.3  # an utterance of two sentences
BEFORE_CHANCE = 0.3  # 'The king said, "..."' rather than '"...," said the king'
INVERTED_CHANCE = 0.6  # '"...," said the king' rather than '"...," the king said'
OPTIONAL_CHANCE = 0.5  # how often a paragraph marked OPTIONAL is written


# ---------------------------------------------------------------- templates

TEXT, MENTION, WORD, FACT = range(4)
_SLOT = re.compile(r"\{([^{}]*)\}")
_MENTION_SLOT = re.compile(r"([HVARXY])([@!^*]?)")
_WORD_SLOT = re.compile(r"([HVARXY])\.(\w+)")


@lru_cache(maxsize=None)
def compile_template(template: str) -> tuple[tuple[int, str, str], ...]:
    """'{H} went {road}.' -> ((MENTION, 'H', ''), (TEXT, ' went ', ''),
    (FACT, 'road', ''), (TEXT, '.', ''))"""
    pieces: list[tuple[int, str, str]] = []
    at = 0
    for slot in _SLOT.finditer(template):
        if slot.start() > at:
            pieces.append((TEXT, template[at : slot.start()], ""))
        body = slot.group(1)
        if m := _MENTION_SLOT.fullmatch(body):
            pieces.append((MENTION, m.group(1), m.group(2)))
        elif m := _WORD_SLOT.fullmatch(body):
            pieces.append((WORD, m.group(1), m.group(2)))
        else:
            pieces.append((FACT, body, ""))
        at = slot.end()
    if at < len(template):
        pieces.append((TEXT, template[at:], ""))
    return tuple(pieces)


@attrs.frozen
class Character:
    role: str
    name: str  # as written: "Hans", or "King Otto" for the royal
    noun: str  # "miller's son"
    adjectives: tuple[str, ...]  # the role's adjectives that fit the noun


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


# ---------------------------------------------------------------- one story


class StoryWriter:
    """Writes one story and records its spans as it goes: narration is
    expanded into (text, role) pieces and appended, so every offset is the
    length of what was written before it."""

    def __init__(self, rng: random.Random):
        self.random = rng.random
        self.parts: list[str] = []
        self.at = 0
        self.roles: list[tuple[int, int, str]] = []
        self.speakers: list[tuple[int, int, str]] = []
        self.stage_starts: list[tuple[int, str]] = []
        self.last = None  # what the current paragraph ends with: None (nothing yet), "narration", "say"
        self.cast = self.draw_cast()
        self.facts = self.draw_facts()

    def pick(self, options):
        return options[int(self.random() * len(options))]

    def draw_cast(self) -> dict[str, Character]:
        """Four characters with distinct names and distinct nouns."""
        cast, names, nouns = {}, set(), set()
        for letter, role in lex.LETTER_ROLE.items():
            gender = "m" if self.random() < 0.5 else "f"
            name = self.pick([n for n in lex.NAMES[gender] if n not in names])
            noun = self.pick([n for n in lex.NOUNS[role][gender] if n not in nouns])
            names.add(name)
            nouns.add(noun)
            adjectives = tuple(a for a in lex.ROLE_WORDS[role]["adj"] if a not in noun.split())
            shown = f"{lex.ROYAL_TITLE[gender]} {name}" if role == "ROYAL" else name
            cast[letter] = Character(role, shown, noun, adjectives)
        return cast

    def draw_facts(self) -> dict[str, str]:
        trouble, prize = self.pick(lex.TROUBLES)
        a_gift, gift = self.pick(lex.FACTS["gift"])
        task = self.pick(lex.FACTS["task"])
        task2 = self.pick([t for t in lex.FACTS["task"] if t != task])
        return {"trouble": trouble, "prize": prize, "gift": gift, "a_gift": a_gift, "task": task, "task2": task2,
                "place": self.pick(lex.FACTS["place"]), "reward": self.pick(lex.FACTS["reward"])}

    # -- expanding templates into pieces

    def mention(self, who: Character, form: str) -> str:
        if form == "@":
            return who.name
        if form == "*":
            adjective = self.pick(who.adjectives)
            return f"{article(adjective)} {adjective} {who.noun}"
        if form == "^":
            return f"the {self.pick(who.adjectives)} {who.noun}"
        chance = ROYAL_NAME_CHANCE if who.role == "ROYAL" else NAME_CHANCE
        if form == "" and self.random() < chance:
            return who.name
        return f"the {who.noun}"

    def expand(self, template: str, out: list, x: str, y: str) -> list[tuple[str, str | None]]:
        """Append the pieces of `template` to `out`: (text, role or None).
        `x` is the letter of the character the sentence is about, `y` the
        character spoken to."""
        for kind, key, detail in compile_template(template):
            if kind == TEXT:
                out.append((key, None))
                continue
            letter = x if key == "X" else y if key == "Y" else key
            if kind == MENTION:
                who = self.cast[letter]
                out.append((self.mention(who, detail), who.role))
            elif kind == WORD:
                self.expand(self.pick(lex.ROLE_WORDS[self.cast[letter].role][detail]), out, x, y)
            else:
                fact = self.facts.get(key)
                self.expand(fact if fact is not None else self.pick(lex.WORDS[key]), out, x, y)
        return out

    # -- writing

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.at += len(text)

    def put_pieces(self, pieces, capital: bool = False) -> None:
        for text, role in pieces:
            if capital and text:
                text, capital = text[0].upper() + text[1:], False
            if role is not None:
                self.roles.append((self.at, self.at + len(text), role))
            self.put(text)

    def start_sentence(self, kind: str, stage: str | None) -> None:
        """Separate the next sentence from the one before: a space within a
        paragraph, a blank line when a paragraph ends (a new speaker or
        narration after dialogue starts a paragraph too)."""
        if self.last != "narration":
            self.put("\n\n")
        else:
            self.put(" ")
        if stage is not None:
            self.stage_starts.append((self.at, stage))
        self.last = kind

    def narrate(self, template: str, stage: str, new_stage: bool) -> None:
        x = self.pick(lex.CAST[stage])
        pieces = self.expand(template, [], x, x)
        self.start_sentence("narration", stage if new_stage else None)
        self.put_pieces(pieces, capital=True)

    def say(self, speaker: str, listener: str, beat: str, stage: str, new_stage: bool) -> None:
        """One line of dialogue, attributed before, after, or between its
        two sentences."""
        who = self.cast[speaker]
        lines = lex.SPEECH[who.role][beat]
        first = self.pick(lines)
        second = None
        if self.random() < SECOND_LINE_CHANCE:
            second = self.pick([line for line in lines if line != first])
        utterance = self.expand(first, [], speaker, listener)
        attribution = [(self.mention(who, ""), who.role)]
        verb = self.pick(lex.ROLE_WORDS[who.role]["say"])
        self.start_sentence("say", stage if new_stage else None)
        if second is None and self.random() < BEFORE_CHANCE:  # The king said, "..."
            self.put_pieces(attribution + [(f" {verb}, ", None)], capital=True)
            self.quote(utterance, who.role)
            return
        text, role = utterance[-1]
        if text.endswith("."):  # "...," said the king.
            utterance[-1] = (text[:-1] + ",", role)
        self.quote(utterance, who.role)
        if " " not in verb and self.random() < INVERTED_CHANCE:
            self.put_pieces([(f" {verb} ", None)] + attribution + [(".", None)])
        else:
            self.put_pieces([(" ", None)] + attribution + [(f" {verb}.", None)])
        if second is not None:
            self.put(" ")
            self.quote(self.expand(second, [], speaker, listener), who.role)

    def quote(self, pieces, role: str) -> None:
        self.put('"')
        start = self.at
        self.put_pieces(pieces, capital=True)
        self.speakers.append((start, self.at, role))
        self.put('"')

    def write(self) -> tuple[str, dict[str, list[tuple[int, int, str]]]]:
        title = self.expand(self.pick(lex.TITLES), [], "H", "H")
        self.put_pieces([(text.upper(), role) for text, role in title])
        self.stage_starts.append((0, lex.STAGES[0]))
        self.last = None  # the title is a paragraph of its own
        for stage in lex.STAGES:
            new_stage = stage != lex.STAGES[0]
            for paragraph in lex.STAGE_BEATS[stage]:
                if paragraph[0] == lex.OPTIONAL:
                    if self.random() >= OPTIONAL_CHANCE:
                        continue
                    paragraph = paragraph[1:]
                self.last = None
                for beat in paragraph:
                    for sentence in self.pick(beat):
                        if isinstance(sentence, str):
                            self.narrate(sentence, stage, new_stage)
                        else:
                            _, speaker, listener, what = sentence
                            self.say(speaker, listener, what, stage, new_stage)
                        new_stage = False
        self.put("\n")
        ends = [start for start, _ in self.stage_starts[1:]] + [self.at]
        stages = [(start, end, label) for (start, label), end in zip(self.stage_starts, ends)]
        return "".join(self.parts), {"role": self.roles, "stage": stages, "speaker": self.speakers}


def story_seed(seed: int, index: int) -> int:
    """The integer seeding story `index` of corpus `seed` (no hash(): the
    same on every machine)."""
    # The key keeps the module's first name (grid_dsl.synthetic): changing it would change every tale.
    key = f"grid_dsl.synthetic/{GENERATOR_VERSION}/{seed}/{index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


def synthetic_story(index: int, seed: int = 0) -> SourceDocument:
    """Story `index` of the corpus with this seed (independent of the others)."""
    text, layers = StoryWriter(random.Random(story_seed(seed, index))).write()
    return SourceDocument(f"story_{index:06d}", text, layers)


# ---------------------------------------------------------------- corpus


class SyntheticCorpus(Corpus):
    """`stories` synthetic fairy tales, written on demand, one per document."""

    def __init__(self, stories: int = 200, seed: int = 0):
        for what, value, least in (("stories", stories, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise UserError(f"synthetic corpus: {what} must be a whole number >= {least}, got {value!r} "
                                f"(write synthetic:stories=200,seed=0)")
        self.stories = stories
        self.seed = seed
        self.name = f"synthetic:stories={stories},seed={seed}"

    def __len__(self) -> int:
        return self.stories

    def documents(self) -> Iterator[SourceDocument]:
        for index in range(self.stories):
            yield synthetic_story(index, self.seed)

    def fingerprint(self) -> str:
        """The content is a function of the generator and (stories, seed):
        hash those, the word tables, and the first story (which changes with
        almost any change to the grammar's code) instead of every story."""
        digest = hashlib.sha256(f"{GENERATOR_VERSION}|{self.stories}|{self.seed}|".encode())
        tables = (lex.NAMES, lex.NOUNS, lex.ROLE_WORDS, lex.CAST, lex.SPEECH, lex.TROUBLES, lex.FACTS,
                  lex.WORDS, lex.TITLES, lex.STAGE_BEATS)
        digest.update(repr(tables).encode())
        first = synthetic_story(0, self.seed)
        digest.update(first.text.encode())
        digest.update(json.dumps(first.annotations, sort_keys=True).encode())
        return digest.hexdigest()


def synthetic_corpus(stories: int = 200, seed: int = 0) -> SyntheticCorpus:
    return SyntheticCorpus(stories, seed)


# ---------------------------------------------------------------- files


def write_story_files(corpus: Corpus, folder: str | Path) -> list[Path]:
    """Each document as FOLDER/NAME.txt, its spans beside it in
    NAME.txt.spans.jsonl as document 0 (what `multigrid check --file` reads)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in corpus.documents():
        path = folder / f"{doc.name}.txt"
        path.write_text(doc.text, encoding="utf-8", newline="\n")
        records = [json.dumps({"doc": 0, "layer": layer, "start": start, "end": end, "label": label})
                   for layer, spans in (doc.annotations or {}).items() for start, end, label in spans]
        Path(f"{path}.spans.jsonl").write_text("".join(r + "\n" for r in records), encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grid_dsl.data.synthetic",
                                     description="Write synthetic fairy tales, one .txt per story, "
                                                 "with their planted spans in .txt.spans.jsonl beside them.")
    parser.add_argument("folder")
    parser.add_argument("--stories", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        paths = write_story_files(synthetic_corpus(args.stories, args.seed), args.folder)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} stories to {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

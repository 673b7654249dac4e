"""A MultiGrid tagger plug-in: words that start with a capital letter.

    tagger caps = capitalised                      # every capitalised word -> CAP
    tagger names = capitalised (label="NAME", min_length=3)

A word is a maximal run of letters, digits and underscores (str.isalnum or
"_"); it is capitalised when its first character is an upper-case letter.
"""

import re

# \w in Python's `re` is Unicode-aware: letters, digits and underscore.
_WORD = re.compile(r"\w+")


class CapitalisedWords:
    """Tags each capitalised word of at least `min_length` characters."""

    def __init__(self, label: str = "CAP", min_length: int = 1):
        if not isinstance(label, str) or not label:
            raise ValueError(f"label must be a non-empty string, not {label!r}")
        if not isinstance(min_length, int) or min_length < 1:
            raise ValueError(f"min_length must be a whole number >= 1, not {min_length!r}")
        self.labels = [label]  # the vocabulary, known before any text
        self.min_length = min_length
        # Causal: is a character's label a function of the text up to it?
        # With min_length 1, yes: a character is labelled when the word it is
        # in (so far) started with a capital. With min_length 3, the first
        # letters of "Al" vs "Alice" would need to see the rest of the word.
        self.causal = min_length <= 1

    def tag(self, text: str):
        """(start, end, label) for each capitalised word of `text`."""
        label = self.labels[0]
        for match in _WORD.finditer(text):
            start, end = match.span()
            if text[start].isupper() and end - start >= self.min_length:
                yield start, end, label

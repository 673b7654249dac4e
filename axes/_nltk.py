"""NLTK data and tools shared by the axes that use NLTK (sentences, POS).

Data is looked up where NLTK looks (NLTK_DATA and its default paths). When a
resource is missing, it is downloaded once with nltk.download; if that fails
(offline), the axis reports how to get it instead of failing deep inside NLTK.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os

RESOURCES = {
    "punkt_tab": "tokenizers/punkt_tab/english/",
    "averaged_perceptron_tagger_eng": "taggers/averaged_perceptron_tagger_eng/",
    "universal_tagset": "taggers/universal_tagset/",
}
_download_tried: set[str] = set()


def _found(package: str) -> bool:
    import nltk  # here, not at the top: a spec without NLTK axes never loads it (it pulls scikit-learn and SciPy)

    try:
        nltk.data.find(RESOURCES[package])
        return True
    except LookupError:
        return False


def missing(*packages: str) -> list[str]:
    """The packages still missing after one download attempt each."""
    absent = []
    for package in packages:
        if _found(package):
            continue
        if package not in _download_tried and not os.environ.get("MULTIGRID_NO_DOWNLOAD"):
            _download_tried.add(package)
            import nltk

            try:  # NLTK prints its own "[nltk_data] Error loading ..." lines: ours says it better
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    nltk.download(package, quiet=True, raise_on_error=False)
            except Exception:  # any network or disk failure means "still missing"
                pass
            if _found(package):
                continue
        absent.append(package)
    return absent


def missing_message(packages: list[str]) -> tuple[str, str]:
    """(message, hint) for missing NLTK data."""
    names = " ".join(packages)
    tried = ("no download was attempted: MULTIGRID_NO_DOWNLOAD is set" if os.environ.get("MULTIGRID_NO_DOWNLOAD")
             else "and downloading it failed")
    return (
        f"NLTK data not found: {names} ({tried})",
        f"run `python -m nltk.downloader {names}` on a machine with internet, "
        "or point NLTK_DATA at a folder that has it",
    )


@functools.lru_cache(maxsize=1)
def punkt():
    from nltk.tokenize import PunktTokenizer

    return PunktTokenizer("english")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    # Materialised first: NLTK times its regexes over the whole lazy
    # iteration, so doing work between items could trip its time limit.
    return list(punkt().span_tokenize(text))


def doc_sentences(doc) -> list[tuple[int, int]]:
    """punkt's sentence spans of a whole document, computed once per document."""
    return doc.memo(("nltk", "sentences"), lambda: sentence_spans(doc.text))

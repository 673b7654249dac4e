"""What a proposer is: the settings every proposer reads and the interface
each implements (the proposers themselves: model/experiments/proposers.py
and model/experiments/longrange_proposers.py; PROPOSERS in the first names
them all). Kept apart so that both modules build on it without importing
each other."""

from __future__ import annotations

import abc

import attrs
import numpy as np

from model.experiments.candidates import Candidate


@attrs.frozen
class Settings:
    """What every proposer may read; each uses its own part."""

    layer: int | None = None  # block whose output is clustered (None: the last)
    clusters: int = 8  # k-means clusters, surprisal buckets, the residual's next-character labels
    max_depth: int = 4  # of the decision tree
    sample: int = 4000  # positions of the train split
    batch_size: int = 32
    max_lexemes: int = 16
    min_count: int = 3  # occurrences a lexeme needs in the sample
    ngram: int = 2  # lexemes of 1 .. ngram words
    origin: str = "the run"  # provenance written in the header (the run and its step)
    teacher: str | None = None  # teacher: a run trained on the same dataset with a longer block, or for longer
    min_gain: float = 0.001  # residual, teacher, operators: bits/char beyond the control a candidate must give
    top: int = 3  # operators: the best operators proposed, one candidate each
    residual: float = 0.25  # residual: how much a leaf must under-predict a character, on average, to name it
    margin: float = 0.5  # teacher: nats by which the teacher's loss must be below the student's


class Proposer(abc.ABC):
    """Reads a model (net), the dataset it was trained on (ds) and that
    dataset's spec (spec_text, includes inlined); returns candidates whose
    `text` is that spec plus one new axis fed as context. Raise
    CandidateError (or any UserError) with a reason to propose nothing."""

    name: str

    def __init__(self, settings: Settings = Settings()):
        self.settings = settings

    @abc.abstractmethod
    def propose(self, net, ds, spec_text: str, rng: np.random.Generator) -> list[Candidate]: ...


def by_size(labels: np.ndarray) -> np.ndarray:
    """Cluster ids renumbered by size, largest first (ties: by old id), so C0 is the largest."""
    ids, counts = np.unique(labels, return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    renumber = np.empty(ids.max() + 1, dtype=np.int64)
    renumber[order] = np.arange(len(order))
    return renumber[labels]

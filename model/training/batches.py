"""Training batches from a compiled dataset: random windows, like nanoGPT's
`get_batch`, of the main stream and every stored axis together.

    ds = grid_dsl.data.dataset.Dataset.open("runs/grimm")
    train = Batches(ds, "train", block_size=64, batch_size=32)
    main, meta = train.get(generator)     # [B, 66] and [B, 66, K] LongTensors
    val = Batches(ds, "val", 64, 32).fixed(20, seed=0)   # the same 20 batches every run

A window is block_size + 2 positions long: a `predict` axis is fed one step
ahead and its target is two steps ahead (docs/design.md). meta[..., k] is the
axis ds.axes[k] (manifest order). With respect_documents=True no window
crosses the start of a document: windows are drawn uniformly among the
positions whose whole window lies inside one document (documents shorter
than a window are never drawn). Gathering is one fancy-indexing of each
memory-mapped stream per batch; nothing is read into memory beforehand.
"""

from __future__ import annotations

import numpy as np
import torch

from grid_dsl.language.diagnostics import UserError


class Batches:
    def __init__(self, ds, split: str, block_size: int, batch_size: int, device: str | torch.device = "cpu",
                 respect_documents: bool = False, augment: bool = False):
        if block_size < 1 or batch_size < 1:
            raise UserError(f"block_size and batch_size must be at least 1 (got {block_size} and {batch_size})")
        self.split, self.block_size, self.batch_size = split, block_size, batch_size
        self.device = torch.device(device)
        self.respect_documents = respect_documents
        self.window = block_size + 2
        self.main = ds.main(split)
        self.axes = [ds.axis(split, a.name) for a in ds.axes]
        # train_offset augmentation (random batches of training only): the columns, their offsets and last ids
        shifted = [k for k, a in enumerate(ds.axes) if augment and a.train_offset]
        self.shift_columns = torch.tensor(shifted, dtype=torch.long)
        self.shift_max = torch.tensor([ds.axes[k].train_offset for k in shifted], dtype=torch.long)
        self.shift_last = torch.tensor([len(ds.axes[k].vocab) - 1 for k in shifted], dtype=torch.long)
        n = len(self.main)
        if respect_documents:
            starts = np.asarray(ds.doc_starts(split), dtype=np.int64)
            ends = np.append(starts[1:], n)
            counts = np.maximum(ends - starts - self.window + 1, 0)  # window starts inside each document
            keep = counts > 0
            self._first, self._counts = starts[keep], counts[keep]
            self._cumulative = np.cumsum(self._counts)
            self.positions = int(self._cumulative[-1]) if len(self._cumulative) else 0
        else:
            self.positions = max(n - self.window + 1, 0)
        if self.positions == 0:
            inside = " inside one document" if respect_documents else ""
            raise UserError(f"the {split} split of {ds.path} has no window of block_size + 2 = {self.window} "
                            f"positions{inside} ({n:,} positions in all); use a smaller block_size"
                            + (" or respect_documents=False" if respect_documents else "")
                            + (" or a larger --val-fraction" if split == "val" else ""))
        self._offsets = np.arange(self.window, dtype=np.int64)

    def starts(self, generator: torch.Generator | None = None) -> np.ndarray:
        """The first position of each window of a batch."""
        return self.window_starts(torch.randint(self.positions, (self.batch_size,), generator=generator).numpy())

    def window_starts(self, draws: np.ndarray) -> np.ndarray:
        """The first positions of windows number `draws` (0 <= draw <
        positions) among all the windows batches are drawn from."""
        draws = np.asarray(draws, dtype=np.int64)
        if not self.respect_documents:
            return draws
        doc = np.searchsorted(self._cumulative, draws, side="right")
        return self._first[doc] + draws - (self._cumulative[doc] - self._counts[doc])

    def get(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A random batch: main [B, block_size + 2] and meta [B, block_size + 2, K]
        (with `augment`, each window's offset added to the axes that have one)."""
        main, meta = self.at(self.starts(generator))
        if len(self.shift_columns):  # one draw per window and axis, every shifted axis at once
            draw = torch.rand((meta.size(0), 1, len(self.shift_columns)), generator=generator)
            shift = (draw * (self.shift_max + 1)).long().clamp(max=self.shift_max).to(meta.device)
            ids = meta[..., self.shift_columns.to(meta.device)]
            moved = torch.minimum(ids + shift, self.shift_last.to(meta.device))
            meta[..., self.shift_columns.to(meta.device)] = torch.where(ids > 0, moved, ids)
        return main, meta

    def at(self, starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The windows that begin at `starts`."""
        index = np.asarray(starts, dtype=np.int64)[:, None] + self._offsets
        main = torch.from_numpy(np.asarray(self.main[index], dtype=np.int64))
        if self.axes:
            meta = torch.from_numpy(np.stack([np.asarray(a[index], dtype=np.int64) for a in self.axes], axis=-1))
        else:
            meta = torch.zeros((len(index), self.window, 0), dtype=torch.long)
        if self.device.type == "cuda":
            return (main.pin_memory().to(self.device, non_blocking=True),
                    meta.pin_memory().to(self.device, non_blocking=True))
        return main.to(self.device), meta.to(self.device)

    def fixed(self, n_batches: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """n_batches batches drawn from a generator seeded with `seed`: the
        same for every run with that seed (e.g. the validation batches)."""
        generator = torch.Generator().manual_seed(seed)
        return [self.get(generator) for _ in range(n_batches)]

    def __repr__(self) -> str:
        return (f"<Batches {self.split}: {self.batch_size} x {self.window} of {len(self.main):,} positions, "
                f"{len(self.axes)} axes{', within documents' if self.respect_documents else ''}>")

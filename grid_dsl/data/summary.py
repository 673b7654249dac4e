"""What a compile or a merge did, as the command line reports it: the
summary lines, and warnings about what the user most likely did not mean."""

from __future__ import annotations

from pathlib import Path

import attrs

from grid_dsl.data.manifest import SPLITS, Manifest


@attrs.frozen
class Summary:
    """What a compile or merge did, for the command line's report."""

    path: Path
    manifest: Manifest
    up_to_date: bool = False
    seconds: float = 0.0
    megabytes: float = 0.0  # UTF-8 text compiled (merge: bytes written)
    replaced: bool = False  # an older dataset was at the path
    unlabelled: tuple[str, ...] = ()  # stored axes with no label anywhere in what was compiled

    def warnings(self) -> list[str]:
        """For stderr: what the user most likely did not mean."""
        found = [f"warning: axis '{name}' has no label anywhere in {self.manifest.corpus.name} (0% coverage): "
                 "its patterns or segmenter match nothing in this corpus; check them with "
                 "`multigrid show SPEC --file SAMPLE`" for name in self.unlabelled]
        return found + ([uneven] if (uneven := self.uneven_split()) else [])

    def uneven_split(self) -> str | None:
        """A split by documents is only as fine as its documents: two files and
        --val-fraction 0.1 make one whole file the validation split."""
        m = self.manifest
        asked = m.split.val_fraction
        total = sum(m.splits[s].tokens for s in SPLITS)
        if m.split.method != "documents" or asked <= 0 or m.shard or not total:
            return None
        share = m.splits["val"].tokens / total
        if asked / 2 <= share <= 2 * asked:
            return None
        return (f"warning: the validation split holds {share:.0%} of the text where --val-fraction asked for "
                f"{asked:.0%}: a corpus is split by whole documents, and the {m.corpus.documents:,} documents of {m.corpus.name} "
                "are too few or too uneven for it; cut its files into more, smaller ones (e.g. `split -C 50000 FILE PREFIX`)")

    def lines(self) -> list[str]:
        m = self.manifest
        corpus, unit = m.corpus, m.main.unit
        if self.up_to_date:
            return [f"{self.path} is up to date (spec {m.spec.hash[:12]}, corpus {corpus.name} "
                    f"{corpus.fingerprint[:12]}): nothing to do"]
        shard, what = m.shard, ""
        if shard:
            first, end = shard.documents
            what = f"shard {shard.index}/{shard.count} (documents {first}..{end - 1}) of "
        rate = self.megabytes / self.seconds if self.seconds > 0 else float("inf")
        replaced = " (replaced the dataset that was there)" if self.replaced else ""
        lines = [f"{self.path}: {what}{corpus.name}, {corpus.documents:,} documents, "
                 f"split by {m.split.method}{replaced}"]
        for split in SPLITS:
            s = m.splits[split]
            lines.append(f"  {split:5s}  {s.documents:>9,} documents  {s.tokens:>13,} {unit}")
        lines.append(f"  main   {len(m.main.vocab)} {unit} in the vocabulary, {m.main.dtype}")
        axes = ", ".join(f"{a.name} ({a.mode or 'stored'}, {a.dtype})" for a in m.axes)
        lines.append(f"  axes   {axes or 'none'}")
        check = m.prefix_check
        if check:
            failed = check.failed
            lines.append(f"  causal prefix check: {check.cuts:,} cuts in {check.documents:,} documents, "
                         + (f"FAILED for {', '.join(failed)} (allowed by --allow-leaks)" if failed else "every context axis agrees"))
        if m.leaky:
            lines.append(f"  LEAKY: {m.leaky_reason or 'an axis is fed as oracle'}")
        lines.append(f"  time   {self.seconds:.1f} s, {self.megabytes:.2f} MB, {rate:.2f} MB/s")
        return lines

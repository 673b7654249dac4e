"""TensorBoard events of a training run, written into the run directory.

Tags (SCALARS tab), all losses in nats and unweighted except the objective:

    train/objective           the weighted training loss, every log_interval steps
    train/lr, train/grad_norm, train/tokens_per_s
    loss/<split>/main         evaluation, split = train | val
    loss/<split>/<axis>       each predict axis
    bpc_main/<split>, bpc_joint/<split>

A leaky run (an oracle axis) writes its scores under `LEAKY/...` instead
(LEAKY/bpc_main/val, LEAKY/loss/val/main, LEAKY/train/objective), so its
curves never share a chart with honest ones (docs/design.md, "What never
happens"). The TEXT tab holds the run's description (`run`: its axes and
modes, and the leaky label) and periodic samples (`samples`). HPARAMS holds
the configuration, the axis modes and the final scores; PROJECTOR holds
the main token embedding and each axis's embedding rows, labelled with
their vocabularies.

    >>> log = RunLog("runs/a", leaky=False)      # doctest: +SKIP
    >>> log.evaluation(250, "val", scores); log.close()
"""

from __future__ import annotations

from pathlib import Path

import torch

from model.training.evaluate import LEAKY_LABEL

LEAKY_PREFIX = "LEAKY/"


class RunLog:
    """A SummaryWriter with the run's tag scheme (one per run, main process only)."""

    def __init__(self, run_dir: str | Path, leaky: bool):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir))
        self.leaky = leaky
        self.prefix = LEAKY_PREFIX if leaky else ""

    def score_tag(self, tag: str) -> str:
        """The tag a score is written under in this run."""
        return self.prefix + tag

    def train_step(self, step: int, objective: float, lr: float, grad_norm: float, tokens_per_s: float) -> None:
        self.writer.add_scalar(self.score_tag("train/objective"), objective, step)
        self.writer.add_scalar("train/lr", lr, step)
        self.writer.add_scalar("train/grad_norm", grad_norm, step)
        self.writer.add_scalar("train/tokens_per_s", tokens_per_s, step)

    def evaluation(self, step: int, split: str, scores) -> None:
        for name, nll in scores.losses.items():
            self.writer.add_scalar(self.score_tag(f"loss/{split}/{name}"), nll, step)
        self.writer.add_scalar(self.score_tag(f"bpc_main/{split}"), scores.bpc_main, step)
        self.writer.add_scalar(self.score_tag(f"bpc_joint/{split}"), scores.bpc_joint, step)

    def text(self, tag: str, text: str, step: int) -> None:
        """`text` shown verbatim (monospace: grids keep their columns)."""
        block = "\n".join("    " + line for line in text.splitlines())
        self.writer.add_text(tag, block, step)

    def sample(self, step: int, text: str) -> None:
        self.text("samples", text, step)

    def describe_run(self, step: int, axes) -> None:
        lines = [LEAKY_LABEL if self.leaky else "honest: every axis is context or predict"]
        lines += [f"{a.name}: {a.mode} (weight {a.weight:g}, {'causal' if a.causal else 'not causal'})"
                  for a in axes] or ["no axes: the baseline"]
        self.text("run", "\n".join(lines), step)

    def embeddings(self, step: int, tables: list[tuple[str, torch.Tensor, list]]) -> None:
        """PROJECTOR: each (tag, [V, D] rows, V labels)."""
        for tag, rows, labels in tables:
            self.writer.add_embedding(rows.detach().float().cpu(), metadata=[label_text(x) for x in labels],
                                      global_step=step, tag=tag)

    def hparams(self, hparams: dict, metric_tags: list[str]) -> None:
        """HPARAMS: `hparams` (plain values) beside the last values of the
        scalar tags `metric_tags`, in this run's own directory (unlike
        SummaryWriter.add_hparams, which writes a sub-run)."""
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        def plain(v):  # the summary would write a bool as the number 0 or 1
            return str(v).lower() if isinstance(v, bool) else v if isinstance(v, (int, float, str)) else str(v)

        values = {k: plain(v) for k, v in hparams.items()}
        for summary in hparams_summary(values, {tag: 0.0 for tag in metric_tags}):
            self.writer.file_writer.add_summary(summary)

    def finish(self, step: int, hparams: dict, model, data) -> None:
        """At the end of a run: HPARAMS (`hparams`, the leaky label and each
        axis's mode beside the final scores) and PROJECTOR (the embeddings).
        `data` is the checkpoint's DataEntry (vocabularies, axes)."""
        axes = data.axes
        hparams = {**hparams, "leaky": self.leaky, "label": LEAKY_LABEL if self.leaky else "honest"}
        hparams |= {f"axis/{a.name}": f"{a.mode} (weight {a.weight:g})" for a in axes}
        tags = [self.score_tag(t) for t in ("bpc_main/val", "bpc_joint/val", "loss/val/main")]
        tags += [self.score_tag(f"loss/val/{a.name}") for a in axes if a.mode == "predict"]
        self.hparams(hparams, tags + ["train/tokens_per_s"])
        vocabs = {a.name: a.vocab for a in axes}
        self.embeddings(step, embedding_tables(model, data.main_vocab, vocabs))

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def label_text(label) -> str:
    """A vocabulary entry as one TSV cell: whitespace and control characters
    written as Python escapes (' ', '\\n'), everything else as itself."""
    text = str(label)
    if not text or not text.isprintable() or text.isspace() or "\t" in text:
        return repr(text)
    return text


def embedding_tables(model, main_vocab: list, axis_vocabs: dict) -> list[tuple[str, torch.Tensor, list]]:
    """The main token embedding and each axis's rows of the fusion table
    (concat: the axis's own width only), each with its vocabulary."""
    tables = [("main", model.transformer.wte.weight, list(main_vocab))]
    fusion = model.fusion
    if fusion is None:
        return tables
    offsets = fusion.offsets.tolist()
    dims = fusion.dims.tolist() if hasattr(fusion, "dims") else None
    for k, axis in enumerate(model.config.axes):
        rows = fusion.table[offsets[k] : offsets[k] + axis.vocab_size]
        if dims is not None:
            rows = rows[:, : dims[k]]
        tables.append((f"axis_{axis.name}", rows, list(axis_vocabs[axis.name])))
    return tables


# ------------------------------------------------------------------ samples


def grid_sample_fn(ds, axes, chars: int = 240, prompt_length: int = 16, seed: int = 0, width: int = 100):
    """A `sample_fn(model) -> str` for train(): `chars` positions sampled
    (temperature 1, fixed seed) after the first `prompt_length` positions of
    the val split, drawn as a grid: the text and one row per axis. Predict
    axes are sampled with the text; context and oracle axes are computed
    from it by the dataset's spec, as `multigrid sample` does. `axes`: the
    model's (ModelAxis, or the manifest's AxisEntry)."""
    import numpy as np

    from grid_dsl.data.render import render_text

    from model.network import checkpoint
    from model.training.context import SampleGrid, generation_context
    from model.network.generate import generate

    data = checkpoint.data_entry(ds, [a.name for a in axes])
    contexts = {}  # the model's context_fn, by its boundary axis (known once a model is given)
    prompt = torch.from_numpy(np.asarray(ds.main("val")[:prompt_length], dtype=np.int64))
    prompt_axes = {a.name: torch.from_numpy(np.asarray(ds.axis("val", a.name)[: prompt_length + 1], dtype=np.int64))
                   for a in axes if a.mode == "predict"}

    def sample(model) -> str:
        key = model.config.boundary_axis
        if key not in contexts:
            contexts[key] = generation_context(data, model.config, ds.path)
        out = generate(model, prompt, chars, prompt_axes=prompt_axes, context_fn=contexts[key], seed=seed)
        ids = out.main[0].tolist()
        if ds.unit != "chars":  # bytes: label rows would not line up with characters
            return ds.decode(ids)
        streams = {name: labels[0].cpu().numpy() for name, labels in out.axes.items()}
        grid = SampleGrid(ds.decode(ids), streams, {a.name: a.vocab for a in axes})
        return render_text(grid, width=width)

    return sample

"""Training a grid transformer: nanoGPT's loop, scored the honest way.

    multigrid train --data DIR --out RUN [--config FILE.toml] [--max-time S] [--resume] [key=value ...]
    torchrun --standalone --nproc_per_node=N -m model.cli train ...     (one process per GPU, DDP)

The model is built from the dataset's manifest: the main vocabulary, and one
axis per stored axis whose mode is not null (mode, loss weight, width). A step
draws a global batch of batch_size * grad_accum * processes random windows
from one seeded generator, the same in every process; process r runs the
micro-batches r*grad_accum .. r*grad_accum + grad_accum-1 of it and DDP
averages the gradients, so N processes take the step one process takes with
grad_accum * N. AdamW (2-D weights decayed), linear warm-up then cosine decay,
gradient clipping. Every eval_interval steps the model is scored on fixed
batches of both splits (`Batches.fixed(eval_iters, eval_seed)`: the same for
every run with that seed, so runs compare), unweighted (model/training/evaluate.py).

The run directory:

    ckpt.pt        the last state: written after every evaluation and at the end
    best.pt        the state of the evaluation with the lowest val bpc_joint
    metrics.json   the last evaluation, and the val scores of every one (see `Trainer.summarise`)
    events.out.tfevents.*   TensorBoard (model/training/tensorboard.py)

Checkpoints hold the optimizer, the step and every generator state (global,
CUDA, and the batch generator's state before the batch in hand), so `--resume`
continues the same curve: N steps, then N more resumed, end exactly where 2N
straight do (on CPU; keep lr_decay_iters fixed, or the schedule changes).

Stopping: at max_iters; at --max-time seconds of this invocation's loop; on
Ctrl-C (the step in progress finishes, ckpt.pt is saved, then a UserError,
exit code 2, says how to resume; a second Ctrl-C aborts at once, exit 130,
and the checkpoints on disk stay whole); on a non-finite loss or gradient
norm (stop, nothing more is saved, a UserError names the step and the last
good checkpoint). Under DDP the processes agree on stopping every
log_interval steps; a terminal's Ctrl-C also reaches torchrun, which passes
it on to the workers as a second signal, so they abort (the checkpoints on
disk stay whole). Every check of the input (dataset, checkpoint, config,
run directory) happens before the first file is written.
"""

from __future__ import annotations

import gc
import math
import os
import signal
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import attrs
import torch
import torch.distributed as dist
from tqdm import tqdm

from grid_dsl.data.dataset import Dataset
from grid_dsl.language.diagnostics import UserError

from model.network import checkpoint
from model.training.batches import Batches
from model.network.config import MODEL_KEYS, TrainConfig, device_memory, resolve_device
from model.training.context import referee_context
from model.training.evaluate import LEAKY_LABEL, score_batches, select
from model.network.transformer import GridTransformer
from model.network import flops, metrics
from model.network.metrics import RunMetrics
from model.network.model_axes import boundary_axis, grid_config, initial_axes, loss_mask, meta_columns, model_axes
from model.training.tensorboard import RunLog

PROGRESS_SECONDS = 30.0  # between the plain progress lines of a run whose stderr is not a terminal

SPLITS = ("train", "val")


def train(data, out, config: TrainConfig, *, resume: bool = False, max_time: float | None = None,
          sample_fn=None, progress: bool = True, init_model: GridTransformer | None = None) -> dict:
    """Train on dataset `data` (a path or a Dataset) into run directory `out`;
    returns the final metrics. `sample_fn(model) -> str` is called every
    config.sample_interval steps and its text goes to TensorBoard's TEXT tab.
    `init_model` starts a new run from that model's weights instead of a
    fresh one (`multigrid expand`): its axes, in its order, must be fed
    axes of `data` with their vocabulary sizes and modes, and its shape and
    dropout those of `config`; parameters it has frozen (requires_grad
    False) stay frozen, also when the run is resumed.
    Under torchrun (WORLD_SIZE > 1) this process is one of the DDP group."""
    if init_model is not None and resume:
        raise ValueError("init_model starts a new run; it cannot be combined with resume")
    if max_time is not None and not max_time > 0:
        raise UserError(f"--max-time must be a positive number of seconds, got {max_time}")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(config.device, local_rank if world > 1 else None)
    joined = world > 1 and not dist.is_initialized()
    if joined:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        trainer = Trainer(data, out, config, device, rank, world, resume, sample_fn, progress, init_model)
        result = trainer.fit(max_time)
        if joined:
            # Rank 0 still saves while the others are done; a rank tearing gloo
            # down alone can abort its peer ("terminate called without an
            # active exception"), so all leave together, the DDP model gone:
            # collected now, as a reference cycle would otherwise free its
            # reducer after the group is destroyed (the same abort, at exit).
            del trainer
            gc.collect()
            dist.barrier()
        return result
    finally:
        if joined:
            dist.destroy_process_group()


class Interrupt:
    """Ctrl-C once: finish the step, save, stop. Twice: abort at once."""

    def __init__(self, verbose: bool = True):
        self.requested, self.previous, self.verbose = False, None, verbose

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.verbose:
            print("\nCtrl-C: saving a checkpoint after this step (Ctrl-C again aborts at once)", file=sys.stderr)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class Trainer:
    """One run: every check and all the state in __init__, the loop in fit()."""

    def __init__(self, data, out, cfg: TrainConfig, device, rank: int, world: int, resume: bool, sample_fn, progress,
                 init_model: GridTransformer | None = None):
        self.cfg, self.device, self.rank, self.world = cfg, device, rank, world
        self.master, self.sample_fn, self.progress = rank == 0, sample_fn, progress
        self.out = Path(out)
        self.ds = ds = data if isinstance(data, Dataset) else Dataset.open(data)
        state = checkpoint.load(self.out) if resume else None
        boundary = boundary_axis(ds, cfg.boundary)  # refused here when not causal: before any file is written
        if state is not None:
            self.columns = checkpoint.check_data(state, ds, same_spec=True, file=self.out / checkpoint.LAST)
            old = state.training()
            changed = [f"{k} {getattr(old, k)!r} -> {getattr(cfg, k)!r}" for k in MODEL_KEYS
                       if getattr(old, k) != getattr(cfg, k)]
            if changed:
                raise UserError(f"--resume cannot change the network's shape ({', '.join(changed)}); "
                                "start a new run with another --out")
            if state.step >= cfg.max_iters:
                raise UserError(f"{self.out} has already trained {state.step} steps (max_iters={cfg.max_iters}); "
                                f"pass max_iters=N with N > {state.step} to train on")
            self.data = attrs.evolve(state.data, path=str(ds.path))
        else:
            cfg.check_memory(len(ds.main_vocab), sum(len(a.vocab) for a in model_axes(ds, cfg.axes)), device_memory(device))
            checkpoint.check_new_run(self.out)
            axes = model_axes(ds, cfg.axes) if init_model is None else initial_axes(init_model, ds, cfg)
            mask = init_model.config.loss_mask if init_model is not None else getattr(loss_mask(ds), "name", None)
            self.columns = meta_columns(ds, axes, mask, boundary.name if boundary else None)
            self.data = checkpoint.data_entry(ds, [a.name for a in axes])
        self.axes = self.data.axes
        # The referee before any number exists, so that every number carries its label.
        self.referee = referee_context(ds, self.axes, cfg.prefix_check, boundary=boundary.name if boundary else None)
        self.leaky = checkpoint.reads_leaky(self.axes, self.referee)

        torch.manual_seed(cfg.seed)
        if state is not None:
            model = state.network(dropout=cfg.dropout)
            for name, p in model.named_parameters():
                p.requires_grad_(name not in state.frozen)
        else:
            model = init_model if init_model is not None else GridTransformer(grid_config(cfg, ds, self.axes))
        self.frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
        # compute accounting (model/network/flops.py): FLOPs per trained position, boundaries measured on train
        self.flops_per_char, self.boundary_rate, self.global_dropped = flops.estimate(model.config, ds)
        self.raw = model.to(device)
        self.optimizer = torch.optim.AdamW(model.param_groups(cfg.weight_decay), lr=cfg.learning_rate,
                                           betas=(cfg.beta1, cfg.beta2), fused=device.type == "cuda")
        if state is not None and state.optimizer:
            self.optimizer.load_state_dict(state.optimizer)
        bf16 = device.type == "cuda" and cfg.dtype != "float32" and torch.cuda.is_bf16_supported()
        if device.type == "cuda" and cfg.dtype == "bfloat16" and not bf16:
            raise UserError("dtype=bfloat16: this GPU has no bfloat16; use dtype=float32")
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext()

        global_batch = cfg.batch_size * cfg.grad_accum * world
        self.train_batches = Batches(ds, "train", cfg.block_size, global_batch, respect_documents=cfg.respect_documents,
                                     augment=True)
        self.tokens_per_step = global_batch * cfg.block_size
        self.eval_sets = {}
        for split in SPLITS:  # every process builds all; each scores its share
            fixed = Batches(ds, split, cfg.block_size, cfg.batch_size).fixed(cfg.eval_iters, cfg.eval_seed)
            self.eval_sets[split] = [(m.to(device), select(a, self.columns).to(device)) for m, a in fixed[rank::world]]
        self.generator = torch.Generator().manual_seed(cfg.seed)

        self.step = self.start_step = state.step if state else 0
        self.tokens = state.tokens if state else 0
        self.seconds = dict(state.seconds) if state else {"wall": 0.0, "eval": 0.0}
        self.best = dict(state.best) if state else {"step": None, "bpc_joint": math.inf}
        self.evaluated_step = state.evaluated_step if state else None
        self.saved_step = state.step if state else None
        self.metrics: RunMetrics | None = state.metrics if state else None
        if state is not None:
            rng = state.rng
            torch.set_rng_state(rng["torch"].clone())
            if device.type == "cuda" and rng["cuda"]:
                torch.cuda.set_rng_state(rng["cuda"][0].clone(), device)
            self.generator.set_state(rng["batches"].clone())
        if rank:  # dropout masks differ between processes
            torch.manual_seed(cfg.seed + rank + 1_000_003 * self.step)

        # Every check passed: from here on files are written.
        self.fast = torch.compile(model) if cfg.compile and device.type == "cuda" else model
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(self.fast, device_ids=[device.index] if device.type == "cuda" else None)
        else:
            self.model = self.fast
        self.log = None
        if self.master:
            self.out.mkdir(parents=True, exist_ok=True)
            self.log = RunLog(self.out, self.leaky)
            self.log.describe_run(self.step, self.axes)
            if self.referee is not None and (self.progress or not self.referee.ok):
                tqdm.write(self.referee.describe(), file=sys.stderr)

    # ------------------------------------------------------------ the loop

    def fit(self, max_time: float | None = None) -> dict:
        cfg = self.cfg
        started, wall_before = time.monotonic(), self.seconds["wall"]
        self.clock = lambda: wall_before + time.monotonic() - started  # wall time of the run, over resumes
        deadline = started + max_time if max_time else None
        pending = []  # (step, objective, grad norm) tensors not yet read back from the device
        mark = (time.perf_counter(), self.tokens)
        said = mark[0]
        bar = tqdm(total=cfg.max_iters, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=None if self.master and self.progress else True)
        batch = self.draw()
        try:
            with Interrupt(self.master) as interrupt:
                while True:
                    reason = self.stop_reason(deadline, interrupt.requested)
                    if reason == "interrupted":
                        self.check_finite(pending)
                        self.seconds["wall"] = self.clock()
                        self.save(best=False)
                        raise UserError(f"interrupted at step {self.step}: saved {self.out / checkpoint.LAST}; "
                                        f"continue with `multigrid train --data {self.ds.path} --out {self.out} --resume`")
                    if (reason or self.step % cfg.eval_interval == 0) and self.step != self.evaluated_step:
                        self.check_finite(pending)
                        self.evaluate(reason)
                        mark = (time.perf_counter(), self.tokens)  # tokens/s counts training only
                    if reason:
                        break

                    lr = cfg.lr_at(self.step)
                    batch, objective, grad_norm = self.optimizer_step(batch, lr)
                    pending.append((self.step, objective, grad_norm))
                    bar.update(1)

                    if self.step % cfg.log_interval == 0:
                        loss_value, norm = self.check_finite(pending)
                        now = time.perf_counter()
                        speed = (self.tokens - mark[1]) / max(now - mark[0], 1e-9)
                        mark = (now, self.tokens)
                        bar.set_postfix(loss=f"{loss_value:.4f}", tok_s=f"{speed:,.0f}", refresh=False)
                        if bar.disable and self.master and self.progress and now - said >= PROGRESS_SECONDS:
                            said = now  # no bar on a pipe or in a file: a plain line, now and then
                            print(f"step {self.step:,}/{cfg.max_iters:,}: train loss {loss_value:.4f}, "
                                  f"{speed:,.0f} tokens/s, {self.clock():,.0f} s", file=sys.stderr, flush=True)
                        if self.log:
                            self.log.train_step(self.step, loss_value, lr, norm, speed)
                    if self.sample_fn and cfg.sample_interval and self.step % cfg.sample_interval == 0:
                        self.sample()
            if self.log:
                hparams = {**self.cfg.to_dict(), "parameters": self.raw.num_params(), "data": str(self.ds.path),
                           "processes": self.world}
                self.log.finish(self.step, hparams, self.raw, self.data)
            return self.metrics
        finally:
            bar.close()
            if self.log:
                self.log.close()

    def optimizer_step(self, batch, lr: float):
        """One step on the global `batch`: this process's micro-batches, the
        gradients averaged over processes (DDP syncs on the last micro-batch
        only), clipped. Returns the next batch, drawn while the GPU works,
        and the step's objective and gradient norm, left on the device."""
        cfg = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        objective = torch.zeros((), device=self.device)
        for i in range(cfg.grad_accum):
            main, meta = self.micro_batch(batch, i)
            last = i == cfg.grad_accum - 1
            with self.model.no_sync() if self.world > 1 and not last else nullcontext():
                with self.autocast:
                    loss = self.model(main, meta).loss / cfg.grad_accum
                if last:
                    batch = self.draw()
                loss.backward()
            objective += loss.detach()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.raw.parameters(), cfg.grad_clip or math.inf)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.tokens += self.tokens_per_step
        return batch, objective, grad_norm

    def draw(self):
        """The next global batch, the model's axes only, on the CPU (pinned
        for CUDA). The generator's state before it is what a checkpoint keeps."""
        self.batch_state = self.generator.get_state()
        main, meta = self.train_batches.get(self.generator)
        meta = select(meta, self.columns)
        if self.device.type == "cuda":
            main, meta = main.pin_memory(), meta.pin_memory()
        return main, meta

    def micro_batch(self, batch, i: int):
        size = self.cfg.batch_size
        lo = (self.rank * self.cfg.grad_accum + i) * size
        main, meta = batch
        return (main[lo : lo + size].to(self.device, non_blocking=True),
                meta[lo : lo + size].to(self.device, non_blocking=True))

    def stop_reason(self, deadline, interrupted: bool) -> str | None:
        if self.step >= self.cfg.max_iters:
            return "max_iters"
        local = 2 if interrupted else 1 if deadline is not None and time.monotonic() >= deadline else 0
        if self.world > 1:  # every process must stop at the same step
            if self.step % self.cfg.log_interval:
                return None
            flag = torch.tensor(local, device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            local = int(flag.item())
        return (None, "max_time", "interrupted")[local]

    def check_finite(self, pending: list) -> tuple[float, float]:
        """Read back the pending steps' objective and gradient norm (one
        device sync); UserError at the first that is not finite."""
        if not pending:
            return math.nan, math.nan
        values = torch.stack([torch.stack([o.float(), n.float()]) for _, o, n in pending]).tolist()
        for (step, _, _), (loss, norm) in zip(pending, values):
            if not (math.isfinite(loss) and math.isfinite(norm)):
                what = f"the training loss became {loss}" if not math.isfinite(loss) else f"the gradient norm became {norm}"
                self.nonfinite(f"{what} at step {step}")
        pending.clear()
        return values[-1][0], values[-1][1]

    def nonfinite(self, what: str):
        if self.saved_step is None:
            kept = "no checkpoint was written yet"
        else:
            kept = f"the last good checkpoint is {self.out / checkpoint.LAST} (step {self.saved_step})"
        raise UserError(f"{what}: training stopped and {kept}; lower learning_rate (now {self.cfg.learning_rate:g}), "
                        "raise warmup_iters or set grad_clip, then train again (or --resume)")

    # -------------------------------------------------- evaluation, saving

    def evaluate(self, reason: str | None) -> None:
        started = time.monotonic()
        scores = {split: score_batches(self.fast, self.eval_sets[split], autocast=self.autocast, reduce=self.world > 1)
                  for split in SPLITS}
        for split, s in scores.items():
            if not s.finite():
                self.nonfinite(f"the {split} loss is {s.losses} at step {self.step}")
        self.evaluated_step = self.step
        keep = self.step > self.start_step or reason is not None  # not the untrained model at step 0
        best = keep and scores["val"].bpc_joint < self.best["bpc_joint"]
        if best:
            self.best = {"step": self.step, "bpc_joint": scores["val"].bpc_joint}
        self.seconds["eval"] += time.monotonic() - started
        self.seconds["wall"] = self.clock()
        self.metrics = self.summarise(scores, reason)
        if not self.master:
            return
        for split, s in scores.items():
            self.log.evaluation(self.step, split, s)
        self.log.flush()
        if self.progress:
            label = f"  [{LEAKY_LABEL}]" if self.leaky else ""
            tqdm.write(f"step {self.step}: train loss {scores['train'].nll_main:.4f}, val loss "
                       f"{scores['val'].nll_main:.4f}, val bpc_main {scores['val'].bpc_main:.4f}, "
                       f"bpc_joint {scores['val'].bpc_joint:.4f}{label}", file=sys.stderr)
        if keep:
            self.save(best)
        self.metrics.write(self.out)

    def summarise(self, scores: dict, reason: str | None) -> RunMetrics:
        """What metrics.json holds: the scores on the fixed batches, unweighted."""
        val, cfg = scores["val"], self.cfg
        step_seconds = self.seconds["wall"] - self.seconds["eval"]
        flops = self.flops_per_char * self.tokens
        evaluation = metrics.Evaluation(step=self.step, wall_time_s=self.seconds["wall"], bpc_joint=val.bpc_joint,
                                        bpc_main=val.bpc_main, flops=flops)
        return RunMetrics(
            leaky=self.leaky,
            label=LEAKY_LABEL if self.leaky else "honest",
            bpc_main=val.bpc_main,
            bpc_joint=val.bpc_joint,
            bits=val.bits,
            val_loss=val.losses,
            train_loss=scores["train"].losses,
            train_bpc_joint=scores["train"].bpc_joint,
            train_bpc_main=scores["train"].bpc_main,
            step=self.step,
            stopped=reason or "running",
            tokens=self.tokens,
            tokens_per_s=self.tokens / step_seconds if step_seconds > 0 else 0.0,
            flops_per_char=self.flops_per_char,
            flops=flops,
            boundary_rate=self.boundary_rate if cfg.boundary else None,
            global_dropped=self.global_dropped if cfg.boundary else None,
            wall_time_s=self.seconds["wall"],
            parameters=self.raw.num_params(),
            axes=tuple(metrics.ReadAxis(a.name, a.kind, a.mode, a.weight, a.causal) for a in self.axes),
            prefix_checked=metrics.PrefixCheck.from_dict(self.referee.to_dict()) if self.referee else None,
            loss_mask=self.raw.config.loss_mask,
            best=metrics.Best(**self.best) if self.best["step"] is not None else None,
            eval=metrics.EvalSetup(batches=cfg.eval_iters, batch_size=cfg.batch_size, block_size=cfg.block_size,
                                   seed=cfg.eval_seed, positions=val.positions),
            data=str(self.ds.path),
            spec_hash=self.data.spec_hash,
            processes=self.world,
            device=str(self.device),
            config=cfg.to_dict(),
            # every evaluation so far (restored with the checkpoint on --resume): learning curves
            history=(*(self.metrics.history if self.metrics else ()), evaluation),
        )

    def save(self, best: bool) -> None:
        if not self.master:
            return
        cuda = self.device.type == "cuda"
        state = checkpoint.Checkpoint(
            **self.raw.checkpoint(),  # config (the model's) and model
            optimizer=self.optimizer.state_dict(),
            step=self.step,
            tokens=self.tokens,
            seconds=dict(self.seconds),
            best=dict(self.best),
            evaluated_step=self.evaluated_step,
            train_config=self.cfg.to_dict(),
            data=self.data,
            frozen=tuple(self.frozen),
            rng={"torch": torch.get_rng_state(), "cuda": [torch.cuda.get_rng_state(self.device)] if cuda else [],
                 "batches": self.batch_state},
            metrics=self.metrics,
        )
        checkpoint.save(state, self.out / checkpoint.LAST)
        if best:
            checkpoint.save(state, self.out / checkpoint.BEST)
        self.saved_step = self.step

    def sample(self) -> None:
        if not self.master:
            return
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # sampling must not shift the training's random numbers
            self.raw.eval()
            try:
                text = self.sample_fn(self.raw)
            finally:
                self.raw.train()
        self.log.sample(self.step, text)

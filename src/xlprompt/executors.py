"""Executors: how the runs of a sweep are carried out — ``local`` (one after the other, in this process) or
``ray`` (as Ray tasks, on a local Ray instance or an existing cluster).

Both follow the same protocol, in :func:`execute_run`, run by the process that trains:

1. ``store.claim(hash)`` — one ``BEGIN IMMEDIATE`` transaction; refused if the run is finished or another
   live process holds it (:mod:`xlprompt.store`), so concurrent sweeps never run a hash twice;
2. a heartbeat thread keeps the claim fresh while :func:`xlprompt.experiment.run_experiment` trains in
   ``RUNS_DIR/<method>-<task>-k<k>-s<seed>-<hash>/`` (or ``RUNS_DIR/<hash>/`` where an earlier store made that
   folder: :func:`xlprompt.sweep.run_dir_of`); a killed run resumes from that folder's last checkpoint;
3. ``store.finish(hash, results)`` (or ``fail`` with the one-line error; the sweep goes on).

Locally every worker writes to the store itself (one machine: the store is on its disk). With Ray the driver owns
the store: it claims each run, a task receives the run's config and returns its outcome (and, where its node does
not reach the runs folder, the run folder's files), and only the driver writes the store (:class:`RayExecutor`).

Ray: imported only when asked for; not installed → "pip install 'xlprompt[ray]'". Each task asks for
``gpus_per_run`` GPUs where the cluster has GPUs (default 1; a fraction such as 0.25 lets 4 runs share one
GPU: Ray does not split its memory, the runs must fit together) and ``cpus_per_run`` CPUs
(default 1); Ray then runs as many at once as the resources allow. ``xlprompt`` must be importable on the
workers (installed there, or the same virtual environment on one machine).

Local with ``workers`` > 1 (``--workers N``): N subprocesses (``python -m xlprompt.executors``),
each going through the sweep's runs in order and taking the ones it can claim, so that several runs share
one GPU (or the CPUs) and no run is done twice. With several GPUs visible and no ``CUDA_VISIBLE_DEVICES``
set, worker i sees GPU i mod count.

Progress: on a terminal, a bar over the sweep's runs (done / left, failed, running elsewhere); ``local`` also
shows the current run's own training bar, ``ray`` shows each running run's epoch (read from its
``metrics.jsonl``). Elsewhere (a file, a cluster's log) plain lines of the ``xlprompt.progress`` logger instead: a
line as each run starts and ends, and, locally, the runs' step and epoch lines. Each run also logs into its own
``run.log``. With ``report_to``, the runs of a sweep are grouped: W&B group = the sweep's name, TensorBoard
``RUNS_DIR/tensorboard/<sweep>/<run folder>``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm.auto import tqdm

from xlprompt.config import RunConfig
from xlprompt.errors import ConfigError, XlpromptError
from xlprompt.plugins import import_plugins, plugin_paths
from xlprompt.safety import RunLockedError, as_disk_error
from xlprompt.store import DEFAULT_STALE_AFTER, Heartbeat, ResultStore, check_stale_after
from xlprompt.sweep import Sweep, SweepRun, run_dir_of
from xlprompt.tracking import PROGRESS_LOGGER, format_duration, link_tensorboard, progress_mode, trackers_of

logger = logging.getLogger(__name__)
progress_logger = logging.getLogger(PROGRESS_LOGGER)

EXECUTORS = ("local", "ray")
#: the outcome of a run that another process finished while this one was going through the sweep
FINISHED_ELSEWHERE = "finished-elsewhere"
#: a run that failed in this sweep invocation in a sibling worker: not tried again
FAILED_ELSEWHERE = "failed-elsewhere"
#: the outcome of a run whose claim the store refused, by the refusal's reason (others: the reason itself)
_REFUSED = {"finished": FINISHED_ELSEWHERE, "failed-now": FAILED_ELSEWHERE}
RAY_MISSING = "the ray executor needs Ray: pip install 'xlprompt[ray]'"


@dataclass
class Outcome:
    """What happened to one run: finished, failed, or skipped (finished / busy / failed earlier)."""

    hash: str
    status: str
    results: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class SweepSummary:
    total: int
    finished_before: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ran(self) -> int:
        return self.count("finished")

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def busy(self) -> int:
        return self.count("busy")

    @property
    def finished_elsewhere(self) -> int:
        return self.count(FINISHED_ELSEWHERE)

    def line(self) -> str:
        """Only the runs this process trained count as its own (two sweeps on one store each
        claimed the other's runs as "now")."""
        done = self.finished_before + self.ran + self.finished_elsewhere
        text = (
            f"{done}/{self.total} runs finished ({self.ran} finished by this process, "
            f"{self.finished_before} before it started"
            + (f", {self.finished_elsewhere} by another process meanwhile" if self.finished_elsewhere else "")
            + f"); {len(self.failed)} failed"
        )
        if self.busy:
            text += f"; {self.busy} running in another process"
        return text


def default_runs_dir(store_path: str | Path) -> Path:
    """``results.db`` → ``results.runs/`` next to it: one run directory per config hash
    (:func:`xlprompt.sweep.run_dir_of`)."""
    path = Path(store_path)
    return path.with_name(path.stem + ".runs")


def _error_line(err: BaseException) -> str:
    if isinstance(err, XlpromptError):
        return str(err)
    frame = traceback.extract_tb(err.__traceback__)[-1:] if err.__traceback__ else []
    where = f" (at {Path(frame[0].filename).name}:{frame[0].lineno})" if frame else ""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else ''}{where}"


def train_run(
    run_hash: str,
    config: dict[str, Any],
    run_dir: str | Path,
    save_weights: bool = False,
    progress: bool | str = False,
    log: Callable[[str], None] | None = None,
    group: str | None = None,
    link_tensorboard_group: bool = True,
) -> dict[str, Any]:
    """Train one run of a sweep into ``run_dir`` and return its results; touches no store (the caller owns it).

    The config must still hash to ``run_hash`` (its input files unchanged since the sweep registered it). With
    ``report_to`` TensorBoard and a ``group``, the run is linked into the group's folder next to ``run_dir``
    (``link_tensorboard_group``; a Ray driver links a returned folder itself, once written)."""
    from xlprompt.experiment import run_experiment

    run_config = RunConfig.from_dict(config)
    if run_config.resolved_hash() != run_hash:
        raise ConfigError(
            f"run {run_hash}: its stored config hashes to {run_config.resolved_hash()} now: "
            "the content of its input files (task file, parallel_file, label_words_file, "
            "dictionary_dir) or the code of its registered method or task changed since the sweep "
            "registered it, or another xlprompt "
            "version wrote the store; run the sweep again to register the runs of the "
            "files as they are"
        )
    if group and link_tensorboard_group and "tensorboard" in trackers_of(run_config.report_to):
        link_tensorboard(Path(run_dir).parent, group, Path(run_dir))
    return run_experiment(run_config, run_dir, progress=progress, log=log, save_weights=save_weights, group=group)


def execute_run(
    store_path: str | Path,
    run_hash: str,
    config: dict[str, Any],
    run_dir: str | Path,
    save_weights: bool = False,
    progress: bool | str = False,
    log: Callable[[str], None] | None = None,
    worker: str = "local",
    stale_after: float = DEFAULT_STALE_AFTER,
    retry_failed: bool = True,
    group: str | None = None,
    invocation_started: float | None = None,
) -> Outcome:
    """Claim → train (heartbeat) → finish/fail, for one run, in the calling process. ``group`` (the sweep's
    name) groups the run in the trackers of its ``report_to``. ``invocation_started``: when the sweep invocation
    began (a run that failed since then is not tried again: :meth:`ResultStore.claim`)."""
    store = ResultStore(store_path, create=False)
    started = time.perf_counter()
    try:
        claim = store.claim(
            run_hash,
            worker=worker,
            run_dir=str(run_dir),
            stale_after=stale_after,
            retry_failed=retry_failed,
            invocation_started=invocation_started,
        )
        if not claim.ok:
            return Outcome(run_hash, _REFUSED.get(claim.reason, claim.reason))
        try:
            with Heartbeat(store_path, run_hash):
                results = train_run(run_hash, config, run_dir, save_weights, progress=progress, log=log, group=group)
        except KeyboardInterrupt:
            store.release(run_hash)
            raise
        except RunLockedError:  # another process trains in this run folder: not ours to run
            store.release(run_hash)
            return Outcome(run_hash, "busy")
        except Exception as err:  # one bad run must not end the sweep: recorded, reported at the end
            full = as_disk_error(err)
            if full is not None:  # a full disk ends the sweep: every further run would fail the same way
                with contextlib.suppress(Exception):
                    store.release(run_hash)
                raise full from None
            message = _error_line(err)
            store.fail(run_hash, message)
            return Outcome(run_hash, "failed", error=message, seconds=time.perf_counter() - started)
        results = {**results, "run_dir": str(run_dir)}
        if not store.finish(run_hash, results):
            return Outcome(run_hash, FINISHED_ELSEWHERE, results, seconds=time.perf_counter() - started)
        return Outcome(run_hash, "finished", results, seconds=time.perf_counter() - started)
    finally:
        store.close()


def _pending(sweep: Sweep, store_path: str | Path, max_runs: int | None):
    """Register the sweep's runs in the store; return (summary so far, finished hashes, runs still to do)."""
    with ResultStore(store_path) as store:
        register(sweep, store)
        records = store.runs("finished", sweep.hashes())
    _check_finished_data(sweep, records)
    finished = {r.hash for r in records}
    todo = [r for r in sweep.runs if r.hash not in finished]
    if max_runs is not None:
        if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 0:
            raise ConfigError(f"max_runs must be a whole number >= 0, not {max_runs!r}")
        todo = todo[:max_runs]
    return SweepSummary(len(sweep), len(finished)), finished, todo


def _check_finished_data(sweep: Sweep, records) -> None:
    """A finished run whose data files changed since it ran (their digest, recorded with its results, differs
    from the digest now) is a one-line error: its results are of the earlier data, and a sweep that counted it
    as finished would report them as this data's. (With ``data_dir`` set, the digest is part of the hash, and
    such a run is a new one; this catches the default data folder, whose path is not in the hash.)"""
    configs = {run.hash: run.config for run in sweep.runs}
    stale = []
    for record in records:
        recorded = (record.results or {}).get("inputs") if isinstance(record.results, dict) else None
        if not isinstance(recorded, dict) or not recorded.get("data"):
            continue
        now = configs[record.hash].data_digest()
        if now is not None and now != recorded["data"]:
            stale.append(record)
    if stale:
        first = configs[stale[0].hash]
        raise ConfigError(
            f"{len(stale)} finished run{'s' if len(stale) > 1 else ''} of this sweep (first: {first.method} "
            f"{first.task} k={first.shots} seed={first.seed}, {stale[0].hash}) read data files that changed since "
            "they ran; their results are of the earlier data: restore the data folder (`xlprompt data stats` and "
            "`xlprompt data fetch` check it), or use another --store"
        )


def register(sweep: Sweep, store: ResultStore) -> None:
    """Add the sweep's runs (pending) and labels to the store; finished rows are kept as they are."""
    store.add(
        ((run.hash, run.config.to_dict(), group, variant) for run in sweep.runs for group, variant in run.labels),
        sweep=sweep.name,
    )
    for group, variant in sweep.references.items():
        store.set_meta(f"reference:{group}", variant)


class _SweepLines:
    """The sweep's plain progress lines: one as each run starts and ends (beside a bar: DEBUG, for run logs and
    ``--verbose``); a failed run is a warning, always shown."""

    def __init__(self, sweep: Sweep, done: int, mode: str):
        self.name, self.total, self.done = sweep.name, len(sweep), done
        self.level = logging.DEBUG if mode == "bar" else logging.INFO
        self.trained_seconds, self.trained = 0.0, 0

    def starting(self, run: SweepRun) -> None:
        progress_logger.log(
            self.level, "sweep %s: run %d/%d starting: %s", self.name, self.done + 1, self.total, run.describe()
        )

    def ended(self, run: SweepRun, outcome: Outcome) -> None:
        if outcome.status == "failed":
            logger.warning(
                "sweep %s: run %s (%s) failed: %s",
                self.name,
                run.describe(),
                f"{run.group} {run.variant}".strip(),
                outcome.error,
            )
            return
        if outcome.status not in ("finished", FINISHED_ELSEWHERE):
            progress_logger.log(self.level, "sweep %s: %s is running in another process", self.name, run.describe())
            return
        self.done += 1
        how = "finished by another process"
        if outcome.status == "finished":
            self.trained += 1
            self.trained_seconds += outcome.seconds
            avg = ((outcome.results or {}).get("accuracy") or {}).get("avg")
            how = (f"avg {avg:.1f}, " if isinstance(avg, (int, float)) else "") + format_duration(outcome.seconds)
        left = self.total - self.done
        eta = (
            f", about {format_duration(left * self.trained_seconds / self.trained)} left"
            if left and self.trained
            else ""
        )
        progress_logger.log(
            self.level,
            "sweep %s: %d/%d runs finished: %s (%s); %d to go%s",
            self.name,
            self.done,
            self.total,
            run.describe(),
            how,
            left,
            eta,
        )


def _close_bar(bar, summary: SweepSummary) -> None:
    """The last state of a sweep's bar: ``done`` when every run has finished, else what is left."""
    left = bar.total - bar.n
    failed = len(summary.failed)
    text = "done" if not left else f"{left} not finished" + (f" ({failed} failed)" if failed else "")
    bar.set_postfix_str(text, refresh=True)


def _sweep_progress(sweep: Sweep, finished, progress, suffix: str = ""):
    """A sweep's progress: its mode (bar, lines, off), its plain lines and its bar (disabled off a terminal)."""
    mode = progress_mode(progress)
    bar = tqdm(
        total=len(sweep),
        initial=len(finished),
        desc=f"sweep {sweep.name}{suffix}",
        unit="run",
        disable=mode != "bar",
        dynamic_ncols=True,
    )
    return mode, _SweepLines(sweep, len(finished), mode), bar


class LocalExecutor:
    """Runs one after the other in this process (the current run's training bar under the sweep's bar), or,
    with ``workers`` > 1, in that many worker subprocesses that claim runs from the store."""

    name = "local"

    def __init__(
        self,
        progress: bool = True,
        stale_after: float = DEFAULT_STALE_AFTER,
        retry_failed: bool = True,
        max_runs: int | None = None,
        workers: int = 1,
        poll_seconds: float = 1.0,
    ):
        if workers < 1:
            raise ConfigError(f"--workers must be >= 1, not {workers}")
        self.progress = progress
        self.stale_after = check_stale_after(stale_after)
        self.retry_failed = retry_failed
        self.max_runs = max_runs
        self.workers = workers
        self.poll_seconds = poll_seconds

    def run(
        self, sweep: Sweep, store_path: str | Path, runs_dir: str | Path, save_weights: bool | None = None
    ) -> SweepSummary:
        save_weights = sweep.save_weights if save_weights is None else save_weights
        runs_dir = Path(runs_dir)
        started = time.time()
        summary, finished, todo = _pending(sweep, store_path, self.max_runs)
        if self.workers > 1 and todo:
            return self._run_workers(
                sweep, store_path, runs_dir, save_weights, summary, finished, todo, started=started
            )
        mode, lines, bar = _sweep_progress(sweep, finished, self.progress)
        try:
            for run in todo:
                bar.set_postfix_str(f"left {len(sweep) - bar.n}, now {run.describe()}")
                lines.starting(run)
                outcome = execute_run(
                    store_path,
                    run.hash,
                    run.config.to_dict(),
                    run_dir_of(runs_dir, run),
                    save_weights,
                    progress=mode,
                    worker="local",
                    stale_after=self.stale_after,
                    retry_failed=self.retry_failed,
                    group=sweep.name,
                )
                summary.outcomes.append(outcome)
                lines.ended(run, outcome)
                if outcome.status in ("finished", FINISHED_ELSEWHERE):
                    bar.update(1)
            _close_bar(bar, summary)
        finally:
            bar.close()
        return summary

    def _run_workers(
        self,
        sweep,
        store_path,
        runs_dir: Path,
        save_weights: bool,
        summary: SweepSummary,
        finished: set,
        todo: list,
        started: float | None = None,
    ) -> SweepSummary:
        import json
        import subprocess
        import sys
        import tempfile

        store_path = str(Path(store_path).resolve())
        runs_dir = runs_dir.resolve()
        runs_dir.mkdir(parents=True, exist_ok=True)
        job = {
            "store": store_path,
            "save_weights": bool(save_weights),
            "stale_after": self.stale_after,
            "retry_failed": self.retry_failed,
            "invocation_started": started if started is not None else time.time(),
            "group": sweep.name,
            "plugins": list(dict.fromkeys(name for r in todo for name in r.config.plugins)),  # imported first
            "runs": [
                {"hash": r.hash, "config": r.config.to_dict(), "run_dir": str(run_dir_of(runs_dir, r))} for r in todo
            ],
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix=".workers-", dir=runs_dir, delete=False) as fh:
            json.dump(job, fh)
            job_path = fh.name
        gpus = _visible_gpu_count()
        procs, files = [], []
        # the workers import the plugins from where this process found them
        paths = [*plugin_paths(job["plugins"]), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        for index in range(min(self.workers, len(todo))):
            env = dict(os.environ)
            if paths:
                env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
            if gpus > 1 and "CUDA_VISIBLE_DEVICES" not in os.environ:
                env["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
            out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # files: a pipe could fill up
            files.append((out, err))
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "xlprompt.executors", job_path, str(index)],
                    stdout=out,
                    stderr=err,
                    text=True,
                    env=env,
                )
            )
        mode = progress_mode(self.progress)
        bar = tqdm(
            total=len(sweep),
            initial=len(finished),
            desc=f"sweep {sweep.name} ({len(procs)} workers)",
            unit="run",
            disable=mode != "bar",
            dynamic_ncols=True,
        )
        outputs = []
        seen = len(finished)
        try:
            while any(p.poll() is None for p in procs):
                time.sleep(self.poll_seconds)
                if mode != "off":
                    with ResultStore(store_path, create=False) as store:
                        done = sum(1 for _ in store.runs("finished", sweep.hashes()))
                    if done != seen:
                        progress_logger.log(
                            logging.DEBUG if mode == "bar" else logging.INFO,
                            "sweep %s: %d/%d runs finished (%d workers; each run logs into its folder's run.log)",
                            sweep.name,
                            done,
                            len(sweep),
                            len(procs),
                        )
                        seen = done
                    bar.update(done - bar.n)
            for proc, (out, err) in zip(procs, files):
                proc.wait()
                out.seek(0)
                err.seek(0)
                outputs.append((proc, out.read(), err.read()))
        except BaseException:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs:
                proc.wait()
            raise
        finally:
            bar.close()
            Path(job_path).unlink(missing_ok=True)
            for out, err in files:
                out.close()
                err.close()
        by_hash: dict[str, Outcome] = {}
        for proc, out, err in outputs:
            if proc.returncode != 0:
                lines = [line for line in err.splitlines() if line.strip()]
                raise XlpromptError(
                    f"sweep worker {proc.args[-1]} exited with status {proc.returncode}: "
                    f"{lines[-1] if lines else 'no message'}"
                )
            for line in out.splitlines():
                if not line.startswith("{"):
                    continue
                outcome = Outcome(**json.loads(line))
                kept = by_hash.get(outcome.hash)
                # what a worker of this sweep did to a run wins over a sibling's view of it (busy: the sibling
                # held the claim; finished-elsewhere: the sibling had finished it): all are this process's work
                if kept is None or _SIBLING_RANK.get(kept.status, 0) > _SIBLING_RANK.get(outcome.status, 0):
                    by_hash[outcome.hash] = outcome
        for run in todo:
            outcome = by_hash.get(run.hash, Outcome(run.hash, "busy"))
            summary.outcomes.append(outcome)
            if outcome.status == "failed":
                logger.warning(
                    "sweep %s: run %s (%s) failed: %s",
                    sweep.name,
                    run.describe(),
                    f"{run.group} {run.variant}".strip(),
                    outcome.error,
                )
        return summary


#: outcomes a worker reports for a run that a sibling worker of the same sweep handled (higher: less news)
_SIBLING_RANK = {FAILED_ELSEWHERE: 1, FINISHED_ELSEWHERE: 1, "busy": 2}


def _visible_gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001 - a broken CUDA setup only means: no GPU to spread over
        return 0


def worker_main(job_path: str, index: int) -> int:
    """One local sweep worker: every run of the job file that it can claim, in order (starting at its own
    index, so that N workers start on N different runs); one JSON line per outcome on stdout."""
    import dataclasses
    import json

    job = json.loads(Path(job_path).read_text("utf-8"))
    # the runs' plugins first: their methods and tasks, before any run's config is read (a plugin that fails here
    # fails the runs that name it, each recorded with the one-line error as its config is read: execute_run)
    with contextlib.suppress(ConfigError):
        import_plugins(job.get("plugins", ()))
    runs = job["runs"]
    runs = runs[index % len(runs) :] + runs[: index % len(runs)] if runs else []
    for run in runs:
        outcome = execute_run(
            job["store"],
            run["hash"],
            run["config"],
            run["run_dir"],
            job["save_weights"],
            progress=False,
            log=None,
            worker=f"local-worker:{index}:{os.getpid()}",
            stale_after=job["stale_after"],
            retry_failed=job["retry_failed"],
            group=job.get("group"),
            invocation_started=job.get("invocation_started"),
        )
        if outcome.status == "finished":
            outcome.results = None  # in the store already; keeps the pipe small
        print(json.dumps(dataclasses.asdict(outcome)), flush=True)
    return 0


#: how a Ray task's run folder reaches the driver: ``auto`` (written in place where the worker reaches the runs
#: folder, else returned), ``shared`` (the runs folder must be reachable from every node), ``returned``
RUN_FOLDER_MODES = ("auto", "shared", "returned")
#: the largest run folder a Ray task returns through the object store (a folder with the trained PLM needs a
#: runs folder every node reaches)
MAX_RETURNED_BYTES = 256 * 1024 * 1024
#: a Ray task's run-folder probe: the driver writes it into the runs folder; a worker that sees it shares the disk
PROBE_PREFIX = ".ray-probe-"


def _folder_files(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` (relative POSIX path → bytes), checkpoints and locks left out."""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or path.is_symlink() or rel == ".lock" or rel.split("/")[0] == "checkpoint":
            continue
        data = path.read_bytes()
        total += len(data)
        if total > MAX_RETURNED_BYTES:
            raise ConfigError(
                f"run folder {folder.name}: over {MAX_RETURNED_BYTES // 2**20} MiB to return through Ray's object "
                "store (the trained PLM?); put the runs folder (--runs-dir) on a path every node reaches "
                "(--ray-run-folders shared)"
            )
        files[rel] = data
    return files


def _ray_task(
    run_hash: str,
    config: dict,
    run_dir: str,
    save_weights: bool,
    mode: str,
    probe: str | None,
    cwd: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """The body of one Ray task: train one run and return its outcome. It never opens the store (the driver
    owns it) and takes no store path.

    The run folder: where this worker sees the driver's probe file in the runs folder (``mode`` ``auto`` or
    ``shared``), the run trains in place, so a retried task resumes from its checkpoint there. Elsewhere it trains
    in a folder of this node's temporary folder, and its files (results, metrics, logs, prompt) come back with
    the outcome, for the driver to write. Relative paths of the config (``data_dir: ../shared/data``) mean what
    they mean for the driver: the task works in the driver's directory where that exists on the worker's node.
    """
    import shutil
    import tempfile

    if cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    with contextlib.suppress(ConfigError):  # the run's plugins first; a failure is the run's, recorded as it starts
        import_plugins(config.get("plugins", ()))
    started = time.perf_counter()
    worker = f"ray:{os.uname().nodename}:{os.getpid()}"
    in_place = mode != "returned" and probe is not None and os.path.isfile(probe)
    scratch = None
    try:
        if mode == "shared" and not in_place:
            raise ConfigError(
                f"--ray-run-folders shared: the runs folder {Path(run_dir).parent} is not reachable from node "
                f"{os.uname().nodename}; mount it on every node, or leave --ray-run-folders at auto"
            )
        if in_place:
            target = Path(run_dir)
        else:
            if save_weights:
                raise ConfigError(
                    f"node {os.uname().nodename} does not reach the runs folder {Path(run_dir).parent}, and a run "
                    "that saves the trained PLM (--save-weights) is too large to return; put the runs folder on "
                    "a path every node reaches"
                )
            scratch = Path(tempfile.mkdtemp(prefix="xlprompt-ray-"))
            target = scratch / Path(run_dir).name
        results = train_run(run_hash, config, target, save_weights, group=group, link_tensorboard_group=in_place)
        files = None if in_place else _folder_files(target)
        return {
            "status": "finished",
            "results": results,
            "files": files,
            "worker": worker,
            "seconds": time.perf_counter() - started,
        }
    except RunLockedError:  # another process trains in this run folder: not ours to run
        return {"status": "busy", "worker": worker}
    except Exception as err:  # the run's own failure: reported once, never retried by Ray
        full = as_disk_error(err)
        return {
            "status": "failed",
            "error": _error_line(full if full is not None else err),
            "worker": worker,
            "seconds": time.perf_counter() - started,
        }
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _write_returned_folder(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a run folder returned by a Ray task: built next to ``run_dir``, then swapped in whole."""
    from xlprompt.safety import atomic_write_bytes, staged_folder

    tops = sorted({rel.split("/")[0] for rel in files}, key=lambda name: (name == "results.json", name))
    with staged_folder(run_dir, tops) as staging:
        for rel, data in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


def check_gpus_per_run(value: float | None) -> float | None:
    """Ray takes a fraction of one GPU (0 < g <= 1) or a whole number of GPUs."""
    if value is None:
        return None
    if not (0 < value <= 1 or float(value).is_integer()) or value <= 0:
        raise ConfigError(
            f"--gpus-per-run must be a fraction in (0, 1] (e.g. 0.25: four runs per GPU) or a whole "
            f"number of GPUs, not {value}"
        )
    return float(value)


class RayExecutor:
    """Runs each run as a Ray task (``gpus_per_run`` GPUs each where the cluster has GPUs, default 1, and
    ``cpus_per_run`` CPUs), on a local Ray instance or a cluster (``address``).

    The driver (this process) owns the store: it claims each run before submitting it, keeps the claims of the
    runs in flight alive, and records each outcome; a Ray task receives a config and returns an outcome, and
    never opens the store. At most ``max_in_flight`` runs are claimed and submitted at once (default: twice the
    runs the cluster fits), so that other drivers on the same store share the remaining runs.

    A task whose node or worker process dies is scheduled again by Ray (``max_retries`` times) within the same
    command, and resumes from its checkpoint where its run folder is on a disk the new node reaches. A run that
    fails for its own reasons (a bad config, NaN) is not retried: the task returns the failure. Run folders:
    ``run_folders`` (:data:`RUN_FOLDER_MODES`).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_run: float = 1.0,
        progress: bool = True,
        stale_after: float = DEFAULT_STALE_AFTER,
        retry_failed: bool = True,
        max_runs: int | None = None,
        poll_seconds: float = 2.0,
        gpus_per_run: float | None = None,
        max_retries: int = 3,
        run_folders: str = "auto",
        max_in_flight: int | None = None,
    ):
        self.gpus_per_run = check_gpus_per_run(gpus_per_run)
        if cpus_per_run <= 0:
            raise ConfigError(f"--cpus-per-run must be > 0, not {cpus_per_run}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 100:
            raise ConfigError(f"--max-retries must be a whole number in [0, 100], not {max_retries!r}")
        if run_folders not in RUN_FOLDER_MODES:
            raise ConfigError(f"--ray-run-folders must be one of {', '.join(RUN_FOLDER_MODES)}, not {run_folders!r}")
        if max_in_flight is not None and (
            isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1
        ):
            raise ConfigError(f"max_in_flight must be a whole number >= 1, not {max_in_flight!r}")
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_run = cpus_per_run
        self.progress = progress
        self.stale_after = check_stale_after(stale_after)
        self.retry_failed = retry_failed
        self.max_runs = max_runs
        self.poll_seconds = poll_seconds
        self.max_retries = max_retries
        self.run_folders = run_folders
        self.max_in_flight = max_in_flight

    def _init(self):
        ray = _import_ray()
        started_here = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
            if self.address:
                kwargs["address"] = self.address
            elif self.num_cpus:
                kwargs["num_cpus"] = self.num_cpus
            try:
                ray.init(**kwargs)
            except ConnectionError as err:
                raise ConfigError(f"cannot connect to the Ray cluster at '{self.address}': {err}") from None
            started_here = True
        return ray, started_here

    def resources(self, ray) -> dict[str, float]:
        """The resources of one run's task: ``ray.remote(...).options(**resources)``."""
        if ray.cluster_resources().get("GPU", 0) > 0:
            return {"num_gpus": self.gpus_per_run or 1.0, "num_cpus": self.cpus_per_run}
        if self.gpus_per_run is not None:
            raise ConfigError(
                f"--gpus-per-run {self.gpus_per_run:g}: the Ray cluster has no GPU; leave it out to "
                "run on CPUs (--cpus-per-run)"
            )
        return {"num_cpus": self.cpus_per_run}

    def _window(self, ray, resources: dict[str, float]) -> int:
        """How many runs to claim and submit at once: ``max_in_flight``, else twice what the cluster fits."""
        if self.max_in_flight is not None:
            return self.max_in_flight
        total = ray.cluster_resources()
        fits = total.get("CPU", 0) / resources["num_cpus"]
        if "num_gpus" in resources:
            fits = min(fits, total.get("GPU", 0) / resources["num_gpus"])
        return max(2, 2 * int(fits))

    def run(
        self, sweep: Sweep, store_path: str | Path, runs_dir: str | Path, save_weights: bool | None = None
    ) -> SweepSummary:
        import uuid

        save_weights = sweep.save_weights if save_weights is None else save_weights
        store_path = str(Path(store_path).resolve())
        runs_dir = Path(runs_dir).resolve()
        invocation_started = time.time()
        summary, finished, todo = _pending(sweep, store_path, self.max_runs)
        if not todo:
            return summary
        ray, started_here = self._init()
        resources = self.resources(ray)
        task = ray.remote(_ray_task).options(max_retries=self.max_retries, retry_exceptions=False, **resources)
        mode, lines, bar = _sweep_progress(sweep, finished, self.progress, " (ray)")
        runs_dir.mkdir(parents=True, exist_ok=True)
        probe = None
        if self.run_folders != "returned":
            probe = runs_dir / f"{PROBE_PREFIX}{uuid.uuid4().hex}"
            probe.write_text("the driver of a Ray sweep: a worker that reads this file shares the runs folder\n")
        store = ResultStore(store_path, create=False)
        pending: dict[Any, SweepRun] = {}
        queue = list(todo)
        window = self._window(ray, resources)
        heartbeat = Heartbeat(store_path, lambda: [run.hash for run in list(pending.values())])
        try:
            with heartbeat:
                while queue or pending:
                    while queue and len(pending) < window:
                        run = queue.pop(0)
                        run_dir = run_dir_of(runs_dir, run)
                        claim = store.claim(
                            run.hash,
                            worker=f"ray-driver:{os.getpid()}",
                            run_dir=str(run_dir),
                            stale_after=self.stale_after,
                            retry_failed=self.retry_failed,
                            invocation_started=invocation_started,
                        )
                        if not claim.ok:
                            outcome = Outcome(run.hash, _REFUSED.get(claim.reason, claim.reason))
                            summary.outcomes.append(outcome)
                            lines.ended(run, outcome)
                            if outcome.status == FINISHED_ELSEWHERE:
                                bar.update(1)
                            continue
                        lines.starting(run)
                        ref = task.remote(
                            run.hash,
                            run.config.to_dict(),
                            str(run_dir),
                            save_weights,
                            self.run_folders,
                            str(probe) if probe else None,
                            os.getcwd(),
                            sweep.name,
                        )
                        pending[ref] = run
                    if not pending:
                        continue
                    done, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_seconds)
                    for ref in done:
                        run = pending[ref]
                        outcome = self._record(ray, ref, run, store, runs_dir, sweep.name)
                        del pending[ref]
                        summary.outcomes.append(outcome)
                        lines.ended(run, outcome)
                        if outcome.status in ("finished", FINISHED_ELSEWHERE):
                            bar.update(1)
                    bar.set_postfix_str(self._running_text(pending.values(), runs_dir))
            _close_bar(bar, summary)
        except BaseException:
            for ref, run in pending.items():
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
                with contextlib.suppress(Exception):
                    store.release(run.hash)
            raise
        finally:
            bar.close()
            store.close()
            if probe is not None:
                probe.unlink(missing_ok=True)
            if started_here and not self.address:
                ray.shutdown()
        return summary

    def _record(self, ray, ref, run: SweepRun, store: ResultStore, runs_dir: Path, group: str) -> Outcome:
        """Record a task's outcome in the store (the driver's claim): finish, fail or release."""
        try:
            result = ray.get(ref)
        except Exception as err:  # the task's node or worker died more than --max-retries times
            message = (
                f"ray task lost {self.max_retries + 1} time{'s' if self.max_retries else ''} "
                f"(its node or worker died): {_error_line(err)}"
            )
            store.fail(run.hash, message)
            return Outcome(run.hash, "failed", error=message)
        seconds = float(result.get("seconds", 0.0))
        if result["status"] == "busy":
            store.release(run.hash)
            return Outcome(run.hash, "busy")
        if result["status"] == "failed":
            store.fail(run.hash, result["error"])
            return Outcome(run.hash, "failed", error=result["error"], seconds=seconds)
        run_dir = run_dir_of(runs_dir, run)
        try:
            if result.get("files") is not None:
                _write_returned_folder(run_dir, result["files"])
                if group and "tensorboard" in trackers_of(run.config.report_to):
                    link_tensorboard(runs_dir, group, run_dir)
        except Exception as err:
            full = as_disk_error(err)
            if full is not None:
                raise full from None
            message = f"run folder {run_dir} not written: {_error_line(err)}"
            store.fail(run.hash, message)
            return Outcome(run.hash, "failed", error=message, seconds=seconds)
        results = {**result["results"], "run_dir": str(run_dir)}
        if not store.finish(run.hash, results):
            return Outcome(run.hash, FINISHED_ELSEWHERE, results, seconds=seconds)
        return Outcome(run.hash, "finished", results, seconds=seconds)

    @staticmethod
    def _running_text(runs, runs_dir: Path) -> str:
        parts = []
        for run in runs:
            metrics = run_dir_of(runs_dir, run) / "metrics.jsonl"
            if metrics.exists():
                try:
                    epochs = sum(1 for line in metrics.read_text("utf-8").split("\n") if line.strip())
                except OSError:
                    continue
                parts.append(f"{run.hash[:6]} ep {epochs}/{run.config.epochs}")
        return f"left {len(list(runs))}" + (": " + ", ".join(parts[:4]) if parts else "")


def get_executor(name: str, **kwargs):
    if name == "local":
        kwargs.pop("address", None)
        kwargs.pop("num_cpus", None)
        kwargs.pop("cpus_per_run", None)
        if kwargs.pop("gpus_per_run", None) is not None:
            raise ConfigError("--gpus-per-run is for --executor ray; the local executor shares a GPU with --workers N")
        return LocalExecutor(**kwargs)
    if name == "ray":
        _import_ray()
        if kwargs.pop("workers", 1) != 1:
            raise ConfigError(
                "--workers is for --executor local; Ray runs as many at once as --gpus-per-run / --cpus-per-run allow"
            )
        return RayExecutor(**kwargs)
    raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}, not '{name}'")


if __name__ == "__main__":  # a local sweep worker: python -m xlprompt.executors JOB.json INDEX
    import sys

    sys.exit(worker_main(sys.argv[1], int(sys.argv[2])))

"""What a run reports while it trains: its log file, its progress lines and its experiment trackers.

Importable without torch (the command line's help and config errors import it).

* **Logging.** Every module logs through ``logging.getLogger(__name__)``; the library never configures the root
  logger (the command line does: :func:`configure_console`). Each run folder gets ``run.log`` (:func:`run_log`):
  plain timestamped lines, appended (a resumed run continues the same file), at INFO whatever the console shows.
* **Progress.** ``progress=True`` means a tqdm bar where stderr is a terminal (or a notebook), and plain lines
  every ``logging_steps`` steps elsewhere (a SLURM log, ``> file``): step, loss, rate, time left, no escape
  codes (:func:`progress_mode`). The step lines and the epoch lines are records of the ``xlprompt.progress``
  logger: INFO (step lines beside a bar: DEBUG, which ``--verbose`` shows).
* **Trackers** (``report_to``, as the HF Trainer's): ``tensorboard`` writes event files into
  ``RUN/tensorboard/`` (``tensorboard --logdir RUN``); ``wandb`` logs to Weights & Biases (project
  ``$WANDB_PROJECT``, else ``xlprompt``; ``WANDB_MODE=offline`` works without network), resuming the same W&B
  run when the run resumes. Runs of a sweep are grouped: the W&B group is the sweep's name, and the sweep links
  each run's event folder into ``RUNS_DIR/tensorboard/SWEEP/RUN`` (:func:`link_tensorboard`).

Scalars, all against the optimiser step: ``train/loss``, ``train/<part>`` (``ce``, ``kl``, ...), ``train/lr`` and
``train/epoch`` every ``logging_steps``; ``epoch/loss``, ``epoch/<part>``, ``epoch/lr``, ``epoch/dev_accuracy``
and ``epoch/epoch`` after each epoch; ``test/<lang>`` and ``test/avg`` at the end.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from xlprompt.errors import ConfigError

logger = logging.getLogger(__name__)

#: the logger of the periodic progress lines (training steps, sweep runs)
PROGRESS_LOGGER = "xlprompt.progress"
RUN_LOG = "run.log"
TENSORBOARD_DIR = "tensorboard"
#: the W&B run id of a run folder, so that a resumed run continues the same W&B run
WANDB_ID_FILE = "wandb-id.txt"
TRACKER_EXTRAS = {"tensorboard": "tensorboard", "wandb": "wandb"}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: ``extra`` of a log record that is a note of a run (data source, random weights): shown once per process
NOTE = {"xlprompt_note": True}


# ---------------------------------------------------------------------------------------------------- progress
def progress_mode(progress: bool | str) -> str:
    """``bar`` (tqdm), ``lines`` (plain log lines) or ``off``. ``True`` picks a bar where stderr is a terminal
    or a notebook, and lines elsewhere (a file, a pipe, a cluster's log)."""
    if progress in ("bar", "lines", "off"):
        return str(progress)
    if not progress:
        return "off"
    stream = sys.stderr
    interactive = bool(getattr(stream, "isatty", lambda: False)()) or "ipykernel" in sys.modules
    return "bar" if interactive else "lines"


def format_duration(seconds: float) -> str:
    """``95`` → ``1m35s``; ``3725`` → ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def format_metrics(metrics: dict[str, float]) -> str:
    """``loss 1.0986 ce 1.0986 kl 0.0120 lr 2.0e-05`` (the keys in their order; floats only)."""
    parts = []
    for key, value in metrics.items():
        if not isinstance(value, (int, float)):
            continue
        parts.append(f"{key} {value:.1e}" if key == "lr" else f"{key} {value:.4f}")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------------- run.log
class _Forward(logging.Handler):
    """Passes on to the root logger's handlers what the package logger would have passed before :func:`run_log`
    lowered its level: the console shows what it showed, ``run.log`` gets INFO on top."""

    def __init__(self, thresholds: dict[str, int]):
        super().__init__()
        self.thresholds = thresholds

    def emit(self, record: logging.LogRecord) -> None:
        progress = record.name == PROGRESS_LOGGER or record.name.startswith(PROGRESS_LOGGER + ".")
        if record.levelno >= self.thresholds[PROGRESS_LOGGER if progress else "xlprompt"]:
            logging.getLogger().handle(record)


class _RunLogHandler(logging.FileHandler):
    """``run.log``, opened for appending without following a link (:func:`xlprompt.safety.open_no_follow`)."""

    def _open(self):
        from xlprompt.safety import open_no_follow

        fd = open_no_follow(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "run log")
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


@contextlib.contextmanager
def run_log(run_dir: Path | None) -> Iterator[None]:
    """While the block runs, every xlprompt log record at INFO or above (progress lines included) is appended
    to ``run_dir/run.log``; the console and any handler the user configured see exactly what they saw before.
    Nothing happens without a run folder."""
    if run_dir is None:
        yield
        return
    package, progress = logging.getLogger("xlprompt"), logging.getLogger(PROGRESS_LOGGER)
    saved = (package.level, package.propagate, progress.level)
    thresholds = {"xlprompt": package.getEffectiveLevel(), PROGRESS_LOGGER: progress.getEffectiveLevel()}
    from xlprompt.safety import check_replaceable

    check_replaceable(Path(run_dir) / RUN_LOG, "run log")  # a link, FIFO or folder there: one line, now
    handler = _RunLogHandler(Path(run_dir) / RUN_LOG, mode="a", encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.DEBUG)
    handler.addFilter(_ProgressRecordLevel())
    forward = _Forward(thresholds)
    package.setLevel(min(thresholds["xlprompt"], logging.INFO))
    progress.setLevel(logging.DEBUG)  # a bar's DEBUG step lines go to run.log too
    package.propagate = False
    package.addHandler(handler)
    package.addHandler(forward)
    try:
        yield
    except BaseException as err:  # why the attempt ended, in the log only (the caller reports it its own way)
        message = " ".join(str(err).split()) or type(err).__name__
        handler.handle(
            logging.makeLogRecord(
                {
                    "name": "xlprompt",
                    "levelno": logging.ERROR,
                    "levelname": "ERROR",
                    "msg": f"the run stopped: {type(err).__name__}: {message}",
                }
            )
        )
        raise
    finally:
        package.removeHandler(forward)
        package.removeHandler(handler)
        handler.close()
        package.setLevel(saved[0])
        package.propagate = saved[1]
        progress.setLevel(saved[2])


class _ProgressRecordLevel(logging.Filter):
    """In ``run.log`` a progress record is written whatever its level (a bar's DEBUG lines included); other
    records from INFO up."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or record.name.startswith(PROGRESS_LOGGER)


# ---------------------------------------------------------------------------------------------------- console
class ConsoleHandler(logging.Handler):
    """The command line's console: plain messages on stdout (written around any tqdm bar on stderr), each note
    of a run once per process, warnings as ``warning: ...``."""

    def __init__(self, level: int = logging.INFO):
        super().__init__(level)
        self.seen_notes: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if getattr(record, "xlprompt_note", False):
                if message in self.seen_notes:
                    return
                self.seen_notes.add(message)
            if record.levelno >= logging.WARNING and not record.name.startswith(PROGRESS_LOGGER):
                message = f"{record.levelname.lower()}: {message}"
            from tqdm import tqdm

            tqdm.write(message, file=sys.stdout)
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - logging must never take a run down
            self.handleError(record)


def configure_console(quiet: bool = False, verbose: bool = False) -> Callable[[], None]:
    """The command line's logging: xlprompt's messages on stdout from INFO, other libraries' from WARNING.
    ``quiet``: no progress (bars, step and epoch lines), only the run's notes, warnings and errors (``run.log``
    still gets everything); ``verbose``: DEBUG, the step lines beside a bar included. Replaces the handler an
    earlier call installed. Returns the function that puts everything back as it was (the command line calls it
    when the command ends: tests invoke it many times in one process)."""
    root, package, progress = logging.getLogger(), logging.getLogger("xlprompt"), logging.getLogger(PROGRESS_LOGGER)
    saved = (root.level, package.level, progress.level)
    for old in [h for h in root.handlers if isinstance(h, ConsoleHandler)]:
        root.removeHandler(old)
    handler = ConsoleHandler(logging.DEBUG)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    package.setLevel(logging.DEBUG if verbose else logging.INFO)
    progress.setLevel(logging.WARNING if quiet else logging.NOTSET)

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        package.setLevel(saved[1])
        progress.setLevel(saved[2])

    return restore


# ---------------------------------------------------------------------------------------------------- trackers
def trackers_of(report_to: str) -> list[str]:
    """``"none"`` → ``[]``; ``"tensorboard,wandb"`` → both."""
    return [t.strip() for t in (report_to or "none").split(",") if t.strip() and t.strip() != "none"]


def _tensorboard_writer_class():
    """torch's SummaryWriter (it needs the tensorboard package), else tensorboardX's, as the HF Trainer."""
    if importlib.util.find_spec("tensorboard") is not None:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter
    if importlib.util.find_spec("tensorboardX") is not None:
        from tensorboardX import SummaryWriter

        return SummaryWriter
    return None


def check_trackers(report_to: str) -> None:
    """A one-line :class:`ConfigError` naming the extra to install when a tracker's package is missing (before
    any run starts)."""
    for name in trackers_of(report_to):
        module = "wandb" if name == "wandb" else None
        found = (
            importlib.util.find_spec(module) is not None
            if module
            else importlib.util.find_spec("tensorboard") is not None
            or importlib.util.find_spec("tensorboardX") is not None
        )
        if not found:
            raise ConfigError(
                f"report_to={name} needs the {name} package: pip install "
                f"'xlprompt[{TRACKER_EXTRAS[name]}]' (or set report_to=none)"
            )


#: the values of ``WANDB_MODE`` W&B accepts
WANDB_MODES = ("online", "offline", "disabled", "dryrun", "run", "shared")


def _wandb_logged_in() -> bool:
    """Whether W&B has an API key: ``WANDB_API_KEY`` or a ``~/.netrc`` entry (``$NETRC``) for its host (as
    ``wandb login`` writes it), read without importing wandb."""
    if os.environ.get("WANDB_API_KEY", "").strip():
        return True
    import netrc
    from urllib.parse import urlsplit

    host = urlsplit(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or "api.wandb.ai"
    try:
        found = netrc.netrc(os.environ.get("NETRC") or None).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(found and found[2])


def check_tracker_setup(report_to: str, run_dir: Path | None = None) -> None:
    """The cheap checks of ``report_to`` that come before any data or model is loaded: each tracker's package
    (:func:`check_trackers`); for W&B, ``WANDB_MODE`` and, where it goes online, a login; in ``run_dir``, the
    paths a tracker writes (``tensorboard`` must be a folder or absent, ``wandb-id.txt`` a regular file or
    absent). One :class:`ConfigError` line each."""
    check_trackers(report_to)
    names = trackers_of(report_to)
    if "wandb" in names:
        mode = os.environ.get("WANDB_MODE", "").strip()
        if mode and mode.lower() not in WANDB_MODES:
            raise ConfigError(
                f"report_to=wandb: WANDB_MODE={mode!r} is not a W&B mode; use one of {', '.join(WANDB_MODES[:3])} "
                "(or unset it)"
            )
        if (mode.lower() or "online") not in ("offline", "disabled", "dryrun") and not _wandb_logged_in():
            raise ConfigError(
                "report_to=wandb: W&B has no login (no WANDB_API_KEY, no ~/.netrc entry); run `wandb login`, set "
                "WANDB_MODE=offline to log locally, or use report_to=none"
            )
    if run_dir is None:
        return
    from xlprompt.safety import check_replaceable, path_kind

    if "tensorboard" in names:
        folder = Path(run_dir) / TENSORBOARD_DIR
        if os.path.lexists(folder) and not folder.is_dir():
            raise ConfigError(
                f"{folder}: report_to=tensorboard writes its event files into this folder, but it is "
                f"{path_kind(folder) or 'a file'}; move it away (or set report_to=none)"
            )
    if "wandb" in names:
        check_replaceable(Path(run_dir) / WANDB_ID_FILE, "W&B run-id file")


class Tracker:
    """Where a run's scalars go: every method a no-op here; :func:`open_tracker` returns the real ones."""

    def begin(self, resume_step: int | None) -> None:
        """Training starts (``resume_step``: the first step after the checkpoint a resumed run starts from)."""

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Scalars (``train/loss``, ``epoch/dev_accuracy``, ...) at optimiser step ``step``."""

    def close(self) -> None:
        """Flush and close (also on error)."""


class _TensorBoard(Tracker):
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.writer = None
        self.purge_step: int | None = None

    def begin(self, resume_step: int | None) -> None:
        self.purge_step = resume_step

    def _open(self):
        if self.writer is None:
            writer_class = _tensorboard_writer_class()
            if writer_class is None:
                check_trackers("tensorboard")
            # purge_step: TensorBoard drops what an earlier, killed attempt logged from that step on
            self.writer = writer_class(log_dir=str(self.log_dir), purge_step=self.purge_step)
        return self.writer

    def log(self, metrics: dict[str, float], step: int) -> None:
        writer = self._open()
        for key, value in metrics.items():
            writer.add_scalar(key, float(value), global_step=step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
            self.writer = None


class _WandB(Tracker):
    def __init__(self, run_dir: Path | None, config: dict[str, Any], group: str | None, name: str | None):
        import wandb

        self.wandb = wandb
        run_id = None
        id_file = None if run_dir is None else run_dir / WANDB_ID_FILE
        if id_file is not None and id_file.exists():
            run_id = id_file.read_text("utf-8").strip() or None
        new_id = run_id is None
        if new_id:
            import secrets

            run_id = f"{config.get('hash', 'run')}-{secrets.token_hex(4)}"  # unique: a new folder is a new run
        try:
            self.run = wandb.init(
                project=os.environ.get("WANDB_PROJECT") or "xlprompt",
                group=group,
                name=name,
                id=run_id,
                resume="allow",
                config=config,
                dir=None if run_dir is None else str(run_dir),
            )
        except Exception as err:  # noqa: BLE001 - no network, no login: one line, not W&B's traceback
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            first = lines[0] if lines else type(err).__name__
            if "validation error" in first and len(lines) > 1:  # pydantic: the next lines name the setting
                first = f"{first}: {' '.join(lines[1:3])}"
            raise ConfigError(
                f"report_to=wandb: W&B did not start ({first}); log in (wandb login), set "
                "WANDB_MODE=offline to log locally, or use report_to=none"
            ) from None
        if new_id and id_file is not None:  # once W&B has started: a refused start leaves no id behind
            from xlprompt.safety import atomic_write_bytes

            atomic_write_bytes(id_file, (run_id + "\n").encode())

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(dict(metrics), step=step)

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


class _Several(Tracker):
    def __init__(self, trackers: list[Tracker]):
        self.trackers = trackers

    def begin(self, resume_step: int | None) -> None:
        for tracker in self.trackers:
            tracker.begin(resume_step)

    def log(self, metrics: dict[str, float], step: int) -> None:
        for tracker in self.trackers:
            tracker.log(metrics, step)

    def close(self) -> None:
        for tracker in self.trackers:
            with contextlib.suppress(Exception):
                tracker.close()


def open_tracker(
    report_to: str, run_dir: Path | None, config: dict[str, Any], group: str | None = None, name: str | None = None
) -> Tracker:
    """The trackers of ``report_to`` for one run (a no-op :class:`Tracker` for ``none``)."""
    names = trackers_of(report_to)
    if not names:
        return Tracker()
    check_trackers(report_to)
    trackers: list[Tracker] = []
    for tracker in names:
        if tracker == "tensorboard":
            if run_dir is None:
                raise ConfigError(
                    "report_to=tensorboard writes its event files into the run folder: give the run one (--out)"
                )
            trackers.append(_TensorBoard(Path(run_dir) / TENSORBOARD_DIR))
        else:
            trackers.append(_WandB(None if run_dir is None else Path(run_dir), config, group, name))
    return trackers[0] if len(trackers) == 1 else _Several(trackers)


def link_tensorboard(runs_dir: Path, sweep: str, run_dir: Path) -> None:
    """``RUNS_DIR/tensorboard/SWEEP/RUN`` → ``RUN/tensorboard`` (a relative link; TensorBoard follows it), so
    that ``tensorboard --logdir RUNS_DIR/tensorboard`` shows the runs grouped by sweep. Where links cannot be
    made (some file systems), the runs stay readable one by one."""
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in sweep) or "sweep"
    folder = Path(runs_dir) / TENSORBOARD_DIR / safe
    link = folder / Path(run_dir).name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(Path("..") / ".." / Path(run_dir).name / TENSORBOARD_DIR, target_is_directory=True)
    except OSError as err:
        logger.debug("no TensorBoard link %s (%s)", link, err)


def read_json_lines(path: Path) -> list[dict]:
    """The complete JSON lines of an appended file (a killed process may leave its last line half-written)."""
    records = []
    try:
        text = path.read_text("utf-8")
    except OSError:
        return records
    for line in text.split("\n"):
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records

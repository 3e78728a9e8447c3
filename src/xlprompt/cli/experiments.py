"""``xlprompt sweep`` / ``report`` / ``predict`` / ``export``: experiments at scale and using a trained run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from xlprompt.cli.params import (
    checked_later,
    config_value,
    count,
    fraction_or_count,
    path_type,
    plugin_option,
    with_overrides,
)
from xlprompt.config import declared_range, parse_overrides


@click.command("sweep")
@click.argument("sweep_file", type=path_type(dir_okay=False))
@click.option(
    "--store",
    "store_path",
    type=path_type(dir_okay=False),
    required=True,
    help="results store (SQLite file; created if missing). Finished runs in it are skipped",
)
@click.option(
    "--runs-dir",
    type=path_type(file_okay=False),
    default=None,
    help="where the run directories go, one per config hash (default: STORE's name + .runs/)",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: the runs one after the other in this process (or --workers N processes); ray: as Ray "
    "tasks, on a local Ray instance or the cluster at --address",
)
@click.option(
    "--address",
    default=None,
    help="ray: address of an existing cluster (e.g. auto, ray://host:10001); default: start a local Ray instance",
)
@click.option("--num-cpus", type=count(1, 100_000), default=None, help="ray: CPUs of the local instance (default: all)")
@click.option("--cpus-per-run", type=fraction_or_count(), default=1.0, show_default=True, help="ray: CPUs per run")
@click.option(
    "--gpus-per-run",
    type=fraction_or_count(),
    default=None,
    help="ray: GPUs per run where the cluster has GPUs, e.g. 0.25 for four runs sharing one GPU (default: 1)",
)
@click.option(
    "--max-retries",
    type=count(0, 100),
    default=None,
    help="ray: times a run whose node or worker dies is scheduled again within this command, resuming from its "
    "checkpoint where the runs folder is shared (default 3); a run that fails by itself is never retried",
)
@click.option(
    "--ray-run-folders",
    type=click.Choice(["auto", "shared", "returned"]),
    default=None,
    help="ray: how a run folder reaches --runs-dir: written in place by a worker that reaches the runs folder "
    "(shared), returned through Ray's object store and written by this process (returned), or whichever "
    "works for each worker (auto, the default)",
)
@click.option(
    "--workers",
    type=count(1, 1024),
    default=1,
    show_default=True,
    help="local: worker processes running runs at once (e.g. 4 runs sharing one GPU); each claims its "
    "runs from the store, so no run is done twice",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="override a config key in every run (wins over the file, variants included)",
)
@click.option(
    "--grid",
    "grids",
    multiple=True,
    metavar="KEY=V1,V2",
    help="replace (or add) a grid axis in every group, e.g. --grid seed=1,2",
)
@click.option(
    "--data-dir",
    type=config_value("data_dir"),
    default=None,
    help="data folder of every run (as --set data_dir=DIR); default: the "
    "file's data_dir, else $XLPROMPT_DATA, else the per-user data folder",
)
@click.option(
    "--save-weights/--no-save-weights",
    default=None,
    help="write each run's trained PLM (plm.safetensors); default: the file's save_weights (false)",
)
@click.option("--max-runs", type=count(0), default=None, help="stop after starting this many runs (0: none)")
@click.option(
    "--stale-after",
    type=checked_later(-(10.0**9), 10.0**9),
    default=None,
    help="seconds without heartbeat after which another process's running claim is taken over "
    "(default 600; at least 3 heartbeats, 90)",
)
@click.option("--no-retry-failed", is_flag=True, help="leave runs that failed before as they are")
@click.option("--dry-run", is_flag=True, help="list the runs and their state, run nothing")
@click.option(
    "--quiet",
    is_flag=True,
    help="no progress (bars, step and epoch lines): the runs' notes, failures and "
    "the summary; each run's run.log still gets every line",
)
@click.option("--verbose", is_flag=True, help="debug messages too, and the step lines beside a progress bar")
@plugin_option
def sweep_command(
    sweep_file,
    store_path,
    runs_dir,
    executor,
    address,
    num_cpus,
    cpus_per_run,
    gpus_per_run,
    max_retries,
    ray_run_folders,
    workers,
    overrides,
    grids,
    data_dir,
    save_weights,
    max_runs,
    stale_after,
    no_retry_failed,
    dry_run,
    quiet,
    verbose,
    plugins,
):
    """Run every config of SWEEP_FILE (YAML grid) into a results store; resumable at any moment.

    A run is keyed by the hash of its full resolved config: runs already finished in the store are skipped,
    a run that was killed is taken up again (and resumes from its checkpoint), and several sweep processes
    (or Ray workers) can share one store without running anything twice.
    """
    from xlprompt.executors import default_runs_dir, get_executor
    from xlprompt.store import ResultStore, check_stale_after
    from xlprompt.sweep import load_sweep, parse_grid_overrides

    check_stale_after(stale_after)  # before any work
    set_values = parse_overrides(list(overrides))
    if data_dir is not None:
        set_values = with_overrides({"data_dir": data_dir}, set_values)
    sweep = load_sweep(
        sweep_file, overrides=set_values, grid_overrides=parse_grid_overrides(list(grids)), plugins=plugins
    )
    runs_dir = Path(runs_dir) if runs_dir else default_runs_dir(store_path)
    if dry_run:
        states = {}
        if Path(store_path).exists():
            with ResultStore(store_path, create=False, readonly=True) as store:
                states = {r.hash: r.status for r in store.runs(hashes=sweep.hashes())}
        for run in sweep.runs:
            labels = "; ".join(f"{g}/{v}" if v else g for g, v in run.labels)
            c = run.config
            task = "" if c.task == "xnli" else f"task={c.task_spec().name}  "  # XNLI lines as they always were
            click.echo(
                f"{run.hash}  {states.get(run.hash, 'new'):8s}  {c.method:4s} k={c.shots:<3d} "
                f"seed={c.seed}  {task}[{labels}]"
            )
        click.echo(f"{len(sweep)} runs")
        return
    from xlprompt.experiment import check_inputs
    from xlprompt.tracking import configure_console

    click.get_current_context().call_on_close(configure_console(quiet=quiet, verbose=verbose))
    for run in sweep.runs:  # fail fast: every run's data and config checks before any run loads a model
        check_inputs(run.config)
    kwargs = dict(
        progress=not quiet,
        stale_after=check_stale_after(stale_after),
        retry_failed=not no_retry_failed,
        max_runs=max_runs,
    )
    if executor == "ray":
        kwargs.update(address=address, num_cpus=num_cpus, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run)
        kwargs.update(max_retries=3 if max_retries is None else max_retries, run_folders=ray_run_folders or "auto")
    else:
        for option, value in (("--max-retries", max_retries), ("--ray-run-folders", ray_run_folders)):
            if value is not None:
                raise click.UsageError(f"{option} is for --executor ray; the local executor runs on this machine")
        kwargs.update(workers=workers, gpus_per_run=gpus_per_run)
    if executor == "ray" and workers != 1:
        kwargs["workers"] = workers
    runner = get_executor(executor, **kwargs)
    click.echo(
        f"sweep {sweep.name}: {len(sweep)} runs → {store_path} (run directories in {runs_dir}), executor {executor}"
    )
    summary = runner.run(sweep, store_path, runs_dir, save_weights)
    click.echo(summary.line())
    for outcome in summary.failed:
        click.echo(f"  failed {outcome.hash}: {outcome.error}", err=True)
    if summary.failed:
        sys.exit(1)


@click.command("report")
@click.option("--store", "store_path", type=path_type(dir_okay=False), required=True, help="results store")
@click.option("--out", "out_dir", type=path_type(file_okay=False), required=True, help="output folder")
@click.option(
    "--compare",
    type=click.Choice(["paper"]),
    default=None,
    help="paper: put the paper's Table I/II numbers beside ours: 'ours (paper, Δ)'",
)
@click.option(
    "--table1-group",
    default="table1",
    show_default=True,
    help="sweep group of Table I (all finished runs if the store has none)",
)
@click.option("--table2-group", default="table2", show_default=True, help="sweep group of Table II")
@click.option(
    "--reference",
    default=None,
    help="Table II variant the t-tests compare against (default: the sweep file's reference, else 'Original MPT')",
)
@click.option(
    "--ttest-samples",
    type=click.Choice(["seeds", "seed-language"]),
    default="seeds",
    show_default=True,
    help="t-test samples: each seed's average accuracy, or every (seed, language) accuracy",
)
@click.option(
    "--fig3-k",
    type=count(1, 100_000),
    default=None,
    help="k of Fig. 3 (default 32, else the largest k with MPT and SP)",
)
@click.option(
    "--metric",
    type=click.Choice(["accuracy", "macro_f1"]),
    default="accuracy",
    show_default=True,
    help="the number of every table and figure; every run records both per language (runs recorded before "
    "macro-F1 are left out of a macro_f1 report, each named in a warning)",
)
@click.option(
    "--average",
    default=None,
    metavar="LANGS",
    help="comma-separated languages of the task tables' named average, instead of each task paper's own set "
    "(XNLI: its 15 with English; AmericasNLI: its 10 targets; PAWS-X: its 7; SIB-200: all 205)",
)
@plugin_option
def report_command(
    store_path, out_dir, compare, table1_group, table2_group, reference, ttest_samples, fig3_k, metric, average, plugins
):
    """Tables I and II (Markdown, CSV, LaTeX), Figures 3-5 (PNG, PDF), the leaderboard, a table per other task
    (SIB-200 also by region, family, XLM-R coverage and script, with its figure) and the data the runs read
    (digests and sources), from a results store."""
    from xlprompt.report import build_report, exports

    report = build_report(
        store_path,
        out_dir,
        compare=compare,
        table1_group=table1_group,
        table2_group=table2_group,
        reference=reference,
        samples=ttest_samples,
        fig3_shots=fig3_k,
        metric=metric,
        average=[x.strip() for x in average.split(",") if x.strip()] if average else None,
    )
    click.echo(exports.to_markdown(report.table1, compare == "paper"))
    click.echo(f"{report.runs} finished runs; wrote {len(report.files)} files to {out_dir}:")
    for path in report.files:
        click.echo(f"  {path}")
    for skipped in report.skipped:
        click.echo(f"  not drawn: {skipped.line()}")


def _source(run_dir, adapter, model):
    """The one trained model of ``predict``'s --model, --run and --adapter (each takes any kind)."""
    given = [value for value in (model, run_dir, adapter) if value]
    if len(given) != 1:
        raise click.UsageError(
            "give exactly one of --model, --run and --adapter (each takes a run folder, a saved model, an exported "
            "adapter or a Hub name user/name)"
        )
    return given[0]


def _load_predictor(source, base_model, tokenizer, device=None):
    from xlprompt.artifact import load_artifact

    return load_artifact(source, device=device, base_model=base_model, tokenizer=tokenizer).predictor


#: the fields ``predict --input`` adds to each row (every input field is kept as it is)
PREDICTION_FIELDS = ("prediction", "prediction_id", "probabilities")


def _run_task(source):
    """The task of a trained model (any kind), read before the model loads. A folder that is no xlprompt model is a
    one-line error here, before its (absent) task's languages are checked."""
    from xlprompt.artifact import artifact_task
    from xlprompt.errors import CheckpointError

    try:
        return artifact_task(source)
    except CheckpointError:  # no model there: its loader says so, before any language is checked
        return None


def _read_jsonl(path: str, default_lang: str, task=None) -> tuple[list[dict], list[str]]:
    """The rows of a ``predict --input`` file and the language of each; every problem is one line naming
    the file and line. A UTF-8 byte-order mark is accepted, as the data readers accept it."""
    from xlprompt.data.examples import text_problem
    from xlprompt.errors import DataError, XlpromptError
    from xlprompt.languages import check_language

    stream = sys.stdin if path == "-" else None
    try:
        text = stream.read() if stream else Path(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read ({err})", path) from None
    text = text.lstrip("\ufeff")
    rows, langs = [], []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"not valid JSON ({err.msg})", path, number) from None
        fields = ("premise", "hypothesis") if task is None or task.name == "xnli" else task.text_fields
        if not isinstance(row, dict) or not all(isinstance(row.get(f), str) for f in fields):
            raise DataError(
                f"expected an object with string field(s) {' and '.join(repr(f) for f in fields)} (and "
                "optional 'lang')",
                path,
                number,
            )
        for name in fields:
            if not row[name].strip():
                raise DataError(f"'{name}' is empty", path, number)
            problem = text_problem(row[name])
            if problem:
                raise DataError(f"'{name}' {problem}", path, number)
        taken = [name for name in PREDICTION_FIELDS if name in row]
        if taken:
            raise DataError(
                f"the field '{taken[0]}' is where the prediction goes; rename it in the input "
                f"(the output adds {', '.join(PREDICTION_FIELDS)} to every row)",
                path,
                number,
            )
        if not isinstance(row.get("lang", default_lang), str):
            raise DataError(f"'lang' must be a language code like 'de', not {row['lang']!r}", path, number)
        try:
            lang = row.get("lang", default_lang)
            lang = (
                check_language(lang)
                if task is None or task.name == "xnli"
                else check_language(lang, task.languages, f"{task.name} language")
            )
        except XlpromptError as err:
            raise DataError(str(err), path, number) from None
        rows.append(row)
        langs.append(lang)
    return rows, langs


@click.command("predict")
@click.option(
    "--model",
    "model",
    default=None,
    metavar="FOLDER|USER/NAME",
    help="the trained model: a run folder, a folder of PromptModel.save_pretrained, an `xlprompt export` adapter, "
    "or a Hugging Face Hub name user/name[@revision] of one (HF_HUB_OFFLINE=1: the cache only)",
)
@click.option(
    "--run", "run_dir", default=None, metavar="FOLDER|USER/NAME", help="the same as --model (its earlier name)"
)
@click.option("--adapter", default=None, metavar="FOLDER|USER/NAME", help="the same as --model (its earlier name)")
@click.option(
    "--base-model", default=None, help="base model spec instead of the recorded one (e.g. where a local copy is now)"
)
@click.option("--tokenizer", default=None, help="tokenizer spec instead of the recorded one")
@click.option(
    "--lang",
    default=None,
    help="language of the input (selects p_S / p_T, PCT's template); default: the task's source language",
)
@click.option(
    "--premise", default=None, help="the text to classify (a two-text task such as XNLI: its first text, the premise)"
)
@click.option("--hypothesis", default=None, help="a two-text task's second text (XNLI: the hypothesis)")
@click.option(
    "--input",
    "input_path",
    type=path_type(dir_okay=False, allow_dash=True),
    default=None,
    help="JSONL batch: one {premise, hypothesis[, lang]} per line ('-' = stdin)",
)
@click.option(
    "--output",
    "output_path",
    type=path_type(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="JSONL output of the batch mode: each input row, every field kept, with "
    "prediction, prediction_id and probabilities added; a new or regular file ('-' = stdout, the one stream: "
    "a link, FIFO or device is refused)",
)
@click.option(
    "--batch-size",
    type=count(*declared_range("eval_batch_size")),  # the rule of eval_batch_size, as Predictor applies it
    default=None,
    help="examples per batch (default: the run's eval_batch_size)",
)
@click.option(
    "--device",
    default=None,
    help="auto, cpu, cuda, cuda:N or mps (default: the run's device setting); the "
    "run's precision applies there (auto: bf16 on a bf16 GPU, fp32 on CPU)",
)
@plugin_option
def predict_command(
    model,
    run_dir,
    adapter,
    base_model,
    tokenizer,
    lang,
    premise,
    hypothesis,
    input_path,
    output_path,
    batch_size,
    device,
    plugins,
):
    """Predict the label of the model's task (XNLI: entailment / neutral / contradiction) with a trained model: a
    run folder, a saved model, an exported adapter or a Hub name of one. A one-text task (a task file with one text
    field) takes --premise as its text."""
    from xlprompt.languages import check_language

    source = _source(run_dir, adapter, model)
    task = _run_task(source)  # the model's task decides the fields, labels and languages
    predictor = None
    if task is None:  # no model there (or a missing one): its loader's one line, not a language error
        predictor = _load_predictor(source, base_model, tokenizer, device)
        task = predictor.config.task_spec()
    lang = task.source_language if lang is None else lang
    if task.name == "xnli":
        check_language(lang)
    else:
        check_language(lang, task.languages, f"{task.name} language")
    single = task.single_text
    if input_path is None and (premise is None or (hypothesis is None and not single)):
        raise click.UsageError(
            "give --premise (the text)" + ("" if single else " and --hypothesis") + ", or --input FILE.jsonl"
        )
    if input_path is not None and (premise is not None or hypothesis is not None):
        raise click.UsageError("--input and --premise/--hypothesis exclude each other")
    if single and hypothesis is not None:
        raise click.UsageError(
            f"the task {task.name} has one text ({task.text_fields[0]}): give it as --premise; --hypothesis is "
            "for a two-text task"
        )
    from xlprompt.data.examples import text_problem

    for option, text in (("--premise", premise), ("--hypothesis", hypothesis)):
        problem = None if text is None else text_problem(text)
        if problem:
            raise click.UsageError(f"{option} {problem}")
    rows, langs = ([], []) if input_path is None else _read_jsonl(input_path, lang, task)  # before the model loads
    if input_path is not None and output_path != "-":
        from xlprompt.safety import check_output_file

        # a regular file or a new name only; a stream (a pipe, a terminal) is `--output -` (standard output)
        check_output_file(output_path, "--output file", hint="; to write to a stream, use --output - (stdout)")
    predictor = predictor or _load_predictor(source, base_model, tokenizer, device)
    if predictor.random_weights:
        click.echo(f"note: {predictor.note}", err=True)
    if input_path is None:
        pred = predictor.predict([premise if single else (premise, hypothesis)], lang=lang, batch_size=batch_size)[0]
        probs = ", ".join(f"{k} {v:.3f}" for k, v in pred.probabilities.items())
        click.echo(f"{pred.label}\t({probs})")
        return
    results: list[dict | None] = [None] * len(rows)
    for row_lang in dict.fromkeys(langs):
        idx = [i for i, row_lang_i in enumerate(langs) if row_lang_i == row_lang]
        fields = ("premise", "hypothesis") if task.name == "xnli" else task.text_fields
        preds = predictor.predict(
            [tuple(rows[i][f] for f in fields) for i in idx], lang=row_lang, batch_size=batch_size
        )
        for i, pred in zip(idx, preds):  # every input field (a gold 'label' too) is kept as it is
            results[i] = {
                **rows[i],
                "prediction": pred.label,
                "prediction_id": pred.label_id,
                "probabilities": dict(pred.probabilities),
            }
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    if output_path == "-":
        click.echo(text, nl=False)
    else:
        from xlprompt.checkpoint import atomic_write_text

        atomic_write_text(Path(output_path), text)
        click.echo(f"wrote {len(results)} predictions to {output_path}", err=True)


@click.command("export")
@click.option("--run", "run_dir", type=path_type(file_okay=False), required=True, help="a finished run directory")
@click.option("--out", "out_dir", type=path_type(file_okay=False), required=True, help="adapter folder to write")
@click.option(
    "--with-plm",
    is_flag=True,
    help="also export the trained PLM (needed for the run's exact predictions when the PLM trained)",
)
@plugin_option
def export_command(run_dir, out_dir, with_plm, plugins):
    """Export p_S, p_T, prompt encoder and translator (or FT head) as an adapter for the base model."""
    import warnings

    from xlprompt.export import export_run

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = export_run(run_dir, out_dir, with_plm=with_plm)
    for path in paths:
        click.echo(f"wrote {path}")
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)


COMMANDS = [sweep_command, report_command, predict_command, export_command]

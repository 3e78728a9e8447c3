"""``xlprompt run`` (one run) and ``xlprompt demo`` (the offline demonstration of the whole pipeline)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from xlprompt.cli.params import config_type, config_value, path_type, plugin_option, with_overrides, with_plugins
from xlprompt.config import RunConfig, parse_overrides
from xlprompt.methods import BUILTIN_METHODS as METHODS
from xlprompt.recipes import describe_fields

#: ``--method``'s help: the built-in methods, and the registered ones (a plugin's), which the config checks
METHOD_HELP = f"the method to run: {', '.join(METHODS)}, or one that a plugin registers (--plugin MODULE)"


@click.command("run")
@click.option("--method", default="mpt", show_default=True, help=METHOD_HELP)
@click.option(
    "--task",
    default="xnli",
    show_default=True,
    help="xnli, pawsx, sib200, americasnli, or the path of a task YAML file (documentation: 'Tasks and your own task')",
)
@click.option(
    "--shots", type=config_type("shots"), default=16, show_default=True, help="k: training examples per class"
)
@click.option(
    "--seed",
    type=config_type("seed"),
    default=1,
    show_default=True,
    help="random seed: the k-shot sample (train_source=sample), initialisation and data order (the paper: 1..5)",
)
@click.option(
    "--model",
    default="xlm-roberta-base",
    show_default=True,
    help="hub name or path of a masked LM, or random:xlm-roberta-base / random:tiny",
)
@click.option("--tokenizer", default=None, help="tokenizer hub name or path (e.g. ../shared/tokenizers/xlm-roberta)")
@click.option(
    "--data-dir",
    type=config_value("data_dir"),
    default=None,
    help="data folder (`xlprompt data fetch` fills it; unset: $XLPROMPT_DATA, "
    "else the per-user data folder), or builtin:demo",
)
@click.option(
    "--out",
    "out",
    type=path_type(file_okay=False),
    default=None,
    help="run directory (resumed if it holds an unfinished run of the same config)  [required]",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="any config key (see --help-config)")
@click.option(
    "--quiet",
    is_flag=True,
    help="no progress (bars, step and epoch lines): only the run's notes, "
    "warnings and the results; RUN/run.log still gets every line",
)
@click.option("--verbose", is_flag=True, help="debug messages too, and the step lines beside a progress bar")
@click.option(
    "--no-save-weights",
    is_flag=True,
    help="do not write the trained PLM (plm.safetensors); `xlprompt predict` then works only for freeze_plm runs",
)
@click.option(
    "--help-config",
    is_flag=True,
    help="list every config key with its value for this command (--method, --task, --set ...: recipe "
    "keys resolved from the recipe), where that value comes from, and its meaning",
)
@plugin_option
def run_command(
    method,
    task,
    shots,
    seed,
    model,
    tokenizer,
    data_dir,
    out,
    overrides,
    quiet,
    verbose,
    no_save_weights,
    help_config,
    plugins,
):
    """Train, select on the English few-shot dev split, and evaluate on all languages.

    Progress: a bar on a terminal, plain lines every logging_steps steps elsewhere (a file, a cluster's log);
    every line also goes to OUT/run.log. Tracking: --set report_to=tensorboard (or wandb).
    """
    values = dict(method=method, shots=shots, seed=seed, model=model, tokenizer=tokenizer, data_dir=data_dir)
    if task != "xnli":
        values["task"] = task
    values = with_plugins(with_overrides(values, parse_overrides(list(overrides))), plugins)
    if help_config:  # the keys as this very command resolves them (--set recipe=uniform, --task, ...)
        config = RunConfig.from_dict(values, where="--set")
        given = tuple(
            k for k in values if k not in ("method", "shots", "seed", "model", "tokenizer", "data_dir", "plugins")
        )
        click.echo("Config keys for --set key=value:\n" + describe_fields(config=config, given=given))
        return
    if out is None:
        raise click.UsageError("Missing option '--out'.")
    config = RunConfig.from_dict(values, where="--set")  # every config error before torch is imported
    from xlprompt.tracking import configure_console

    click.get_current_context().call_on_close(configure_console(quiet=quiet, verbose=verbose))
    from xlprompt.experiment import format_results_table, run_experiment

    reused = (Path(out) / "results.json").exists()
    results = run_experiment(config, Path(out), progress=not quiet, save_weights=not no_save_weights)
    click.echo(format_results_table(results))
    # a finished folder is reused as it is; say so instead of claiming a write
    click.echo(f"{out}/results.json: reused, nothing written" if reused else f"wrote {out}/results.json")


@click.command("demo")
@click.option("--method", default="mpt", show_default=True, help=METHOD_HELP)
@click.option(
    "--model",
    type=click.Choice(["toy:small", "random:tiny"]),
    default=None,
    help="toy:small (the default): the toy world and its pre-trained toy model (learning is visible); "
    "random:tiny: random weights on the shipped XNLI sample (a pipeline check, chance-level numbers; the "
    "default for a method that cannot run the toy world)",
)
@click.option(
    "--epochs", type=config_type("epochs"), default=None, help="training epochs (default: toy 20, random:tiny 3)"
)
@click.option("--out", type=path_type(file_okay=False), default=None, help="run directory (default: a temp dir)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="any config key (see run --help-config)")
@plugin_option
def demo_command(method, model, epochs, out, overrides, plugins):
    """A short offline run: the toy world with its pre-trained toy model, or random:tiny on the XNLI sample."""
    fallback = None
    if model is None:
        from xlprompt.methods import get_method_spec
        from xlprompt.tasks import get_task

        fallback = get_method_spec(method).task_support(get_task("toy"))
        model = "random:tiny" if fallback else "toy:small"
    if model == "random:tiny":
        values = dict(
            method=method,
            shots=4,
            seed=1,
            model="random:tiny",
            data_dir="builtin:demo",
            epochs=epochs or 3,
            batch_size=12,
            eval_batch_size=32,
            max_length=128,
        )
        if method == "softmv":  # the shipped sample has no bilingual dictionaries: no code-switched copies
            values["softmv_cosda_rate"] = 0.0
    else:
        from xlprompt.tasks.toy import TOY_DEMO_SHOTS, toy_settings

        values = dict(
            method=method, task="toy", model=model, shots=TOY_DEMO_SHOTS, seed=1, **toy_settings(method, epochs)
        )
    values = with_plugins(with_overrides(values, parse_overrides(list(overrides))), plugins)
    config = RunConfig.from_dict(values, where="--set")
    from xlprompt.experiment import format_results_table, run_experiment
    from xlprompt.tracking import configure_console

    click.get_current_context().call_on_close(configure_console())
    if model == "random:tiny":
        if fallback:
            click.echo(
                f"note: {method} cannot run the toy world ({fallback}); the pipeline check on random:tiny instead"
            )
        click.echo(f"xlprompt demo: {method} on random:tiny with the shipped 15-language sample.")
        if method == "softmv" and config.softmv_cosda_rate == 0:
            click.echo(
                "note: the shipped sample has no bilingual dictionaries, so SoftMV runs without "
                "code-switching (softmv_cosda_rate=0)"
            )
    else:
        click.echo(
            f"xlprompt demo: {method} on the toy world (a synthetic testbed, NOT XNLI): k={config.shots} "
            "source-language (en) examples per class, evaluated on en and the derived languages qaa, qab, qac."
        )
        from xlprompt.models.toy import ensure_toy_model

        ensure_toy_model(model, config.data_dir, log=click.echo)
    with tempfile.TemporaryDirectory(prefix="xlprompt-demo-") as tmp:
        run_dir = Path(out) if out else Path(tmp) / "run"
        results = run_experiment(config, run_dir, progress=True)
        click.echo(format_results_table(results))
    if model != "random:tiny":
        from xlprompt.tasks.toy import above_chance_line

        click.echo(above_chance_line(results))
    click.echo(
        "\nA real run (pre-trained XLM-R from the hub, the paper's data; fetch the data once):\n"
        "  xlprompt data fetch\n"
        "  xlprompt run --method mpt --shots 16 --seed 1 --model xlm-roberta-base --out runs/mpt-k16-s1"
    )


COMMANDS = [run_command, demo_command]

"""``xlprompt run`` (one run) and ``xlprompt demo`` (the offline demonstration of the whole pipeline)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from xlprompt.config import RunConfig, parse_overrides
from xlprompt.methods import BUILTIN_METHODS as METHODS
from xlprompt.recipes import describe_fields


def _print_config_help(ctx, method: str) -> None:
    click.echo("Config keys for --set key=value:\n" + describe_fields(method))
    ctx.exit(0)


def _show_config_help(ctx, _param, value):
    """``--help-config``: both it and ``--method`` are eager, so ``--method M`` may come before or after it."""
    if value:
        if "method" in ctx.params:
            _print_config_help(ctx, ctx.params["method"])
        ctx.meta["xlprompt.help_config"] = True


def _method_option(ctx, _param, value):
    if ctx.meta.get("xlprompt.help_config"):
        _print_config_help(ctx, value)
    return value


@click.command("run")
@click.option("--method", type=click.Choice(METHODS), default="mpt", show_default=True, is_eager=True,
              callback=_method_option, help="the method to run")
@click.option("--task", default="xnli", show_default=True,
              help="xnli, pawsx, or the path of a task YAML file (documentation: 'Tasks and your own task')")
@click.option("--shots", type=int, default=16, show_default=True, help="k: training examples per class")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--model", default="xlm-roberta-base", show_default=True,
              help="hub name or path of a masked LM, or random:xlm-roberta-base / random:tiny")
@click.option("--tokenizer", default=None, help="tokenizer hub name or path (e.g. ../shared/tokenizers/xlm-roberta)")
@click.option("--data-dir", default=None, help="data folder (`xlprompt data fetch` fills it; unset: $XLPROMPT_DATA, "
              "else the per-user data folder), or builtin:demo")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="run directory (resumed if it holds an unfinished run of the same config)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="any config key (see --help-config)")
@click.option("--quiet", is_flag=True, help="no progress bars")
@click.option("--no-save-weights", is_flag=True, help="do not write the trained PLM (plm.safetensors); "
              "`xlprompt predict` then works only for freeze_plm runs")
@click.option("--help-config", is_flag=True, expose_value=False, is_eager=True, callback=_show_config_help,
              help="list every config key with its default for --method (and where it comes from) and meaning")
def run_command(method, task, shots, seed, model, tokenizer, data_dir, out, overrides, quiet, no_save_weights):
    """Train, select on the English few-shot dev split, and evaluate on all languages."""
    values = dict(method=method, shots=shots, seed=seed, model=model, tokenizer=tokenizer, data_dir=data_dir)
    if task != "xnli":
        values["task"] = task
    values.update(parse_overrides(list(overrides)))
    config = RunConfig.from_dict(values, where="--set")  # every config error before torch is imported
    from xlprompt.experiment import format_results_table, run_experiment

    reused = (Path(out) / "results.json").exists()
    results = run_experiment(config, Path(out), progress=not quiet, log=click.echo,
                             save_weights=not no_save_weights)
    click.echo(format_results_table(results))
    # issue 11: a finished folder is reused as it is; say so instead of claiming a write
    click.echo(f"{out}/results.json: reused, nothing written" if reused else f"wrote {out}/results.json")


@click.command("demo")
@click.option("--method", type=click.Choice(METHODS), default="mpt", show_default=True)
@click.option("--model", type=click.Choice(["toy:small", "random:tiny"]), default="toy:small", show_default=True,
              help="toy:small: the toy world and its pre-trained toy model (learning is visible); random:tiny: "
              "random weights on the shipped XNLI sample (a pipeline check, chance-level numbers)")
@click.option("--epochs", type=int, default=None, help="training epochs (default: toy 20, random:tiny 3)")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="run directory (default: a temp dir)")
def demo_command(method, model, epochs, out):
    """A short offline run: the toy world with its pre-trained toy model, or random:tiny on the XNLI sample."""
    from xlprompt.experiment import RANDOM_WEIGHTS_NOTE, format_results_table, run_experiment

    if model == "random:tiny":
        config = RunConfig(method=method, shots=4, seed=1, model="random:tiny", data_dir="builtin:demo",
                           epochs=epochs or 3, batch_size=12, eval_batch_size=32, max_length=128)
        click.echo(f"xlprompt demo: {method} on random:tiny with the shipped 15-language sample.")
        click.echo(f"NOTE: {RANDOM_WEIGHTS_NOTE}.")
    else:
        from xlprompt.tasks.toy import TOY_DEMO_SHOTS, toy_settings

        config = RunConfig.from_dict(dict(method=method, task="toy", model=model, shots=TOY_DEMO_SHOTS, seed=1,
                                          **toy_settings(method, epochs)), where="demo")
        click.echo(f"xlprompt demo: {method} on the toy world (a synthetic testbed, NOT XNLI): k={config.shots} "
                   "source-language (en) examples per class, evaluated on en and the derived languages qaa, qab, qac.")
        from xlprompt.models.toy import ensure_toy_model

        ensure_toy_model(model, config.data_dir, log=click.echo)
    with tempfile.TemporaryDirectory(prefix="xlprompt-demo-") as tmp:
        run_dir = Path(out) if out else Path(tmp) / "run"
        results = run_experiment(config, run_dir, progress=True, log=click.echo)
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

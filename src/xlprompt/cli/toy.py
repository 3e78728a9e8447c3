"""``xlprompt toy``: the synthetic toy world (:mod:`xlprompt.data.toy`) and its pre-trained toy masked LM."""

from __future__ import annotations

import click

from xlprompt.cli.params import config_type, config_value, count


@click.group("toy")
def toy() -> None:
    """The synthetic toy world: a testbed where learning is visible on a CPU (not XNLI)."""


@toy.command("pretrain")
@click.option("--model", "spec", default="toy:small", show_default=True, help="the toy model to build")
@click.option(
    "--seed",
    type=config_type("seed"),
    default=0,
    show_default=True,
    help="pre-training seed (the spec toy:small loads seed 0; another seed's folder is a local model path for --model)",
)
@click.option(
    "--data-dir",
    type=config_value("data_dir"),
    default=None,
    help="data folder that caches the model (unset: $XLPROMPT_DATA, else the per-user data folder)",
)
@click.option("--force", is_flag=True, help="pre-train again even if the model is cached")
def pretrain_command(spec, seed, data_dir, force):
    """Pre-train the toy masked LM on the toy world (about 80 s on one CPU thread) and cache it."""
    import json

    from xlprompt.models.toy import ensure_toy_model, is_built, toy_model_dir

    folder = toy_model_dir(spec, data_dir, seed)  # an unknown spec: one line before any work
    if is_built(folder) and not force:
        click.echo(f"{spec} (seed {seed}) is cached in {folder}; --force pre-trains it again")
    else:
        ensure_toy_model(spec, data_dir, seed, force=force, log=click.echo)
    report = json.loads((folder / "pretraining.json").read_text("utf-8"))
    click.echo(
        f"{report['parameters']:,} parameters, vocabulary {report['vocab_size']}, {report['steps']} steps "
        f"of {report['batch_size']}; masked-LM loss {report['loss_first']:.2f} -> {report['loss_last']:.2f}; "
        f"pre-trained in {report['seconds']} s ({report['torch_threads']} threads)"
    )


@toy.command("show")
@click.option("-n", type=count(1, 10_000), default=3, show_default=True, help="test items to show per language")
def show_command(n):
    """Print some test items of every toy language, the parallel corpus's first pairs and the dictionary."""
    from xlprompt.data.toy import TOY_LABELS, TOY_LANGUAGES, toy_world

    world = toy_world()
    for lang in TOY_LANGUAGES:
        for ex in world.test[lang][:n]:
            click.echo(f"{lang}  {ex.premise}  |  {ex.hypothesis}  ->  {TOY_LABELS[ex.label]}")
    for pair in world.parallel[:n]:
        click.echo(
            f"parallel en-{pair.tgt_lang}: {pair.src_premise} {pair.src_hypothesis}  =  "
            f"{pair.tgt_premise} {pair.tgt_hypothesis}"
        )
    for lang, table in world.dictionaries.items():
        click.echo(f"dictionary en-{lang}: " + ", ".join(f"{a}={b}" for a, b in list(table.items())[:12]) + ", ...")
    click.echo(
        f"{len(world.train_pool)} training and {len(world.dev_pool)} development items (en), "
        f"{len(world.test['en'])} test items per language, {len(world.parallel)} parallel pairs"
    )


COMMANDS = [toy]

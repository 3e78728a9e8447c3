"""The ``xlprompt`` command line. Each command group lives in its own module of this package."""

from __future__ import annotations

import sys
import warnings

import click

from xlprompt.errors import XlpromptError


class _Group(click.Group):
    """A click group that turns :class:`XlpromptError` into a one-line message and exit status 2."""

    def invoke(self, ctx):
        shown = warnings.showwarning
        warnings.showwarning = _one_line_warning  # a data warning is one line, not a source excerpt
        try:
            return super().invoke(ctx)
        except click.exceptions.UsageError as err:  # an option's typed value, an unknown option: one line too
            where = err.ctx.command_path if err.ctx is not None else ctx.command_path
            _fail(f"{err.format_message()} (see `{where} --help`)")
        except XlpromptError as err:
            _fail(err)
        except Exception as err:  # noqa: BLE001 - anything else is re-raised as it is
            # a full / read-only disk inside torch, safetensors or sqlite: one line
            from xlprompt.safety import as_disk_error

            found = as_disk_error(err)
            if found is None:
                raise
            _fail(found)
        finally:
            warnings.showwarning = shown


def _fail(err: BaseException | str) -> None:
    message = " ".join(part for part in str(err).replace("\r", "\n").split("\n") if part)  # one line
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group(cls=_Group)
@click.version_option(package_name="xlprompt")
def cli() -> None:
    """xlprompt: few-shot cross-lingual transfer with soft prompts (MPT and baselines)."""


def _register() -> None:
    # Imported here so that each command module can import the package freely.
    from xlprompt.cli import data as data_cmds

    cli.add_command(data_cmds.data)
    try:
        from xlprompt.cli import run as run_cmds
    except ImportError:  # pragma: no cover - during bootstrapping only
        return
    for command in run_cmds.COMMANDS:
        cli.add_command(command)
    from xlprompt.cli import experiments as experiment_cmds

    for command in experiment_cmds.COMMANDS:
        cli.add_command(command)
    from xlprompt.cli import toy as toy_cmds

    for command in toy_cmds.COMMANDS:
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="xlprompt")

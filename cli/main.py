"""The `topoform` command: thin click commands over the library.

Commands load lazily (each from the module named after it; `deploy` holds the engine commands) so `topoform --help` and
`topoform validate` never import Pulumi or the cloud SDKs.
Exit status: 0 success; 1 a deployment or runtime failure; 2 invalid input.
"""

from __future__ import annotations

import gc
import importlib
import sys

import click

from topoform import __version__

# command → (module in topoform.cli, function, one-line help for --help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": ("validate", "validate", "Parse and check a blueprint; print every problem."),
    "plan": ("plan", "plan", "Compile offline and list the resources that would be created."),
    "preview": ("deploy", "preview", "Show what `up` would change (Pulumi engine)."),
    "up": ("deploy", "up", "Create or update the deployment."),
    "destroy": ("deploy", "destroy", "Delete every resource of the stack."),
    "refresh": ("deploy", "refresh", "Read the real state of deployed resources into the stack."),
    "outputs": ("deploy", "outputs", "Print the stack outputs (URLs, endpoints)."),
    "install-pulumi": ("deploy", "install_pulumi", "Install the pinned Pulumi CLI under ~/.pulumi."),
    "graph": ("graph", "graph", "Draw the architecture (mermaid, dot, svg, png)."),
    "report": ("report", "report", "Availability, disaster-recovery and lint report."),
    "drill": ("drill", "drill", "Stop components of a deployed stack under load; measure vs report."),
    "eject": ("eject", "eject", "Write a standalone Pulumi project for the blueprint."),
    "schema": ("schema", "schema", "Print the blueprint JSON Schema."),
    "init": ("init", "init", "Write a commented starter blueprint."),
}


# Commands that compute offline and exit. They make almost no reference cycles, so the cyclic
# collector would only rescan an ever larger heap (a 10,000-component `plan`: ~1 s of 3.9 s CPU);
# main() leaves it off for them. Deploy commands keep it: a long Pulumi run under asyncio makes cycles.
OFFLINE = {"validate", "plan"}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, function, _ = COMMANDS[name]
        return getattr(importlib.import_module(f"topoform.cli.{module}"), function)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text from the table, so --help imports no command module.
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, _, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="topoform")
def cli() -> None:
    """Topoform: one YAML blueprint of a system design, checked, compiled to Pulumi,
    deployed to local Docker or AWS.

    \b
    Quick start:
      topoform init shop.yaml        write a starter blueprint
      topoform validate shop.yaml    check it
      topoform plan shop.yaml        see the resources, offline
      topoform up shop.yaml          deploy (docker by default)
    """


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in OFFLINE:
        gc.disable()
    try:
        cli.main(prog_name="topoform")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    finally:
        # click exits through SystemExit, which passes here. Frozen objects are
        # left out of the collections the interpreter runs while it shuts down
        # (~55 ms of a `validate`); exit handlers, flushes and `finally` blocks
        # still run, which os._exit would skip.
        gc.freeze()


if __name__ == "__main__":
    main()

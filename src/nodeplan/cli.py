"""The ``nodeplan`` command line: one Typer app, each subcommand in :mod:`nodeplan.commands`.

Errors a user can cause (:class:`~nodeplan.exceptions.NodeplanError`) print one line on stderr and exit
with status 2; ``--help`` on every command says what it does and shows an example.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from nodeplan.exceptions import NodeplanError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="nodeplan",
    help=(
        "Plan and check where a decentralized AI-inference network runs execution, verification, storage "
        "and coordination, and whether it stays decentralized when a provider, region or country fails.\n\n"
        "Start with `nodeplan demo` (no input needed)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root() -> None:
    """Plan and check where a decentralized AI-inference network runs its work."""


# --- subcommands: one line each (keep this block sorted) ------------------------------------------
from nodeplan.commands.advise import advise_cmd  # noqa: E402
from nodeplan.commands.audit import audit_cmd  # noqa: E402
from nodeplan.commands.demo import demo_cmd  # noqa: E402
from nodeplan.commands.import_ import import_cmd  # noqa: E402
from nodeplan.commands.place import place_cmd  # noqa: E402
from nodeplan.commands.route import route_cmd  # noqa: E402
from nodeplan.commands.serve import serve_cmd  # noqa: E402
from nodeplan.commands.simulate import simulate_app  # noqa: E402
from nodeplan.commands.validate import validate_cmd  # noqa: E402

app.command("advise")(advise_cmd)
app.command("audit")(audit_cmd)
app.command("demo")(demo_cmd)
app.command("import")(import_cmd)
app.command("place")(place_cmd)
app.command("route")(route_cmd)
app.command("serve")(serve_cmd)
app.add_typer(simulate_app, name="simulate")
app.command("validate")(validate_cmd)
# --- end of subcommands ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    try:
        app(args=argv, prog_name="nodeplan", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except NodeplanError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(exc))}")
        return 2
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())

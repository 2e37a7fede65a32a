"""CLI subcommands, one module each; registered in :mod:`nodeplan.cli`."""

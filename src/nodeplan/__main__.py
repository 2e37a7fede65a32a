"""``python -m nodeplan`` runs the CLI."""

from nodeplan.cli import run

if __name__ == "__main__":
    run()

"""``python -m topoeval`` runs the command-line interface."""

from topoeval.cli import main

if __name__ == "__main__":  # pragma: no cover
    main(prog_name="topoeval")

"""Project tooling that is not part of the app: `python -m tools.<name>`."""

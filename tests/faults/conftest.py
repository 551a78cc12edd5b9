"""The gunicorn fixtures (start_server and what it needs) for every fault test module."""

from tests.faults.test_server_faults import secret_key, start_server, static_root

__all__ = ["secret_key", "start_server", "static_root"]

"""The security tests use the history tests' real PostgreSQL (and the root sandbox fixtures)."""

from tests.history.conftest import postgres_server_url, postgres_url  # noqa: F401  (fixtures)

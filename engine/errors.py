"""Errors users can act on.

A user error is a value, not a traceback: it names the file, the place inside it and
what is wrong, and the CLI prints it on one line and exits with status 2.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_SERVICE = 4


class ArcPolicyError(Exception):
    """Base of every error arcpolicy raises on purpose."""


class ServiceError(ArcPolicyError):
    """Azure (or the sandbox) refused a request or kept failing after retries: not the user's input."""


class InputError(ArcPolicyError):
    """Bad user input: a file, the place inside it, and what is wrong there.

    ``source`` is the file (or option) the input came from, ``location`` the place inside it
    (``line 3 column 7``, ``resource 12``, ``policyRule.if.allOf[1].field``) and ``value``
    the offending value when there is one worth showing.
    """

    def __init__(self, source: str, message: str, location: str | None = None, value: object = None):
        self.source = str(source)
        self.location = location
        self.message = message
        self.value = value
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = self.source if not self.location else f"{self.source}: {self.location}"
        text = f"{where}: {self.message}"
        if self.value is not None:
            shown = repr(self.value)
            if len(shown) > 120:
                shown = shown[:117] + "..."
            text += f" (got {shown})"
        return " ".join(text.split())

"""arcpolicy engine: inventory -> evaluate (the library API behind the CLI)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("arcpolicy")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

"""The ``--rego-engine`` registry: how each engine checks modules and builds the scan's evaluator.

- **regorus** (default): Microsoft's regorus, in process (:mod:`engine.rego.regorus_engine`).
- **regopy**: Microsoft's rego-cpp through regopy, in a child process because regopy 1.5 crashes
  on some valid Rego (:mod:`engine.rego.isolation`); kept as the differential twin of regorus.
- **opa**: an OPA server (``opa run --server``); regorus checks the policies before upload.

Each kind has ``check`` (modules -> those that compile alone, diagnostics for the others) and
``build`` (bundle, options -> engine, or :class:`BundleRejected` naming the files that do not
compile together, which the library skips before building again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError
from engine.rego.bundle import ScanBundle
from engine.rego.engines import (
    BundleRejected,
    Diagnostic,
    IsolatedEngine,
    OpaServerEngine,
    RegoEngine,
    RegopyEngine,
    compile_diagnostic,
    compile_modules,
)
from engine.rego.isolation import EngineCrash, IsolatedError, call_isolated
from engine.rego.modules import RegoModule
from engine.rego.opa_builtins import NOT_PROVIDED
from engine.rego.references import BuiltinCheck, References, dependency_order, regopy_builtin
from engine.rego.regorus_engine import RegorusEngine, check_modules, regorus_builtin

DEFAULT_ENGINE = "regorus"

Check = Callable[[Sequence[RegoModule]], tuple[list[RegoModule], list[Diagnostic]]]


@dataclass(frozen=True)
class EngineKind:
    """One ``--rego-engine`` choice."""

    check: Check
    build: Callable[..., RegoEngine]
    is_builtin: BuiltinCheck  # for the static reference checks (engine/rego/references.py)


def _build_regopy(bundle: ScanBundle) -> RegoEngine:
    """regopy in its child; a compile error or a crash names the files to skip."""
    try:
        return IsolatedEngine(bundle)
    except IsolatedError as error:  # caught only when building the whole bundle
        sources = {module.name: module.source for module in bundle.modules}
        raise BundleRejected([compile_diagnostic(error, sources, bundle.modules[-1].name if bundle.modules else "")]) from None
    except EngineCrash as crash:
        crashing = _crashing_modules(list(bundle.modules))
        if not crashing:
            raise InputError("--policy", f"{crash} compiling the Rego policies together") from None
        raise BundleRejected(crashing) from None


def _crashing_modules(modules: list[RegoModule]) -> list[Diagnostic]:
    """After regopy crashed building the bundle: the modules it crashes on, each built (with what it uses) alone."""
    references = References(modules)
    crashing = []
    for module in modules:
        used = references.packages_used(module) | {module.package}
        alone = [other for other in modules if other is module or other.package in used]
        try:
            call_isolated(_build_in_child, alone)
        except EngineCrash as crash:
            crashing.append(Diagnostic(module.name, 1, f"the Rego engine crashed compiling this file: {crash.reason}; "
                                                       "see docs/rego.md, regopy 1.5 limits"))
        except IsolatedError:
            pass  # a compile error of the smaller program; the whole bundle decides
    return crashing


def _build_in_child(modules: list[RegoModule]) -> None:
    """In a child: compile ``modules`` as the scan would."""
    packages = tuple(dict.fromkeys(module.package for module in modules if "violation" in module.rules))
    applicable = frozenset(module.package for module in modules if "applicable" in module.rules)
    RegopyEngine(ScanBundle(tuple(modules), packages, applicable & frozenset(packages)))


def _build_opa(bundle: ScanBundle, url: str, **options: Any) -> RegoEngine:
    """regorus checks the bundle (file:line:column diagnostics) before it goes to the OPA server."""
    RegorusEngine(bundle)
    return OpaServerEngine(bundle, url, upload_order=dependency_order(bundle.modules), **options)


def opa_builtin(name: str) -> bool:
    """OPA has every built-in: regorus's, those arcpolicy adds to it and those it cannot add."""
    return regorus_builtin(name) or name in NOT_PROVIDED


ENGINES: dict[str, EngineKind] = {
    "regorus": EngineKind(check_modules, RegorusEngine, regorus_builtin),
    "regopy": EngineKind(compile_modules, _build_regopy, regopy_builtin),
    "opa": EngineKind(check_modules, _build_opa, opa_builtin),
}

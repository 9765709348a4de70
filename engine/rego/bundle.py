"""The scan bundle: every policy module plus one generated entry module that evaluates them all.

Evaluating each policy with its own query costs a query per (cluster, policy); the entry
module collects every package's verdicts in one document, so a cluster costs one query. Each
package also gets its own entry rule, queried only when the combined query hits a runtime
error, to find which policy failed while the others keep their verdicts.

Assignments may give one package several parameter sets; the input carries them under
``_parameterSets`` and the entry rules evaluate the package once per set with
``with input.parameters as ...``. A package absent from ``_parameterSets`` costs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from engine.rego.modules import RegoModule

ENTRY_PACKAGE = "arcpolicy_internal.scan"
ENTRY_FILE = "arcpolicy_internal_scan.rego"
RESULTS_RULE = "results"
PARAMETER_SETS_KEY = "_parameterSets"


@dataclass(frozen=True)
class ScanBundle:
    """Compiled-together modules and the packages (in entry-rule order) that are policies."""

    modules: tuple[RegoModule, ...]
    packages: tuple[str, ...]
    with_applicable: frozenset[str]

    @staticmethod
    def package_rule(index: int) -> str:
        return f"package_{index}"

    @property
    def results_path(self) -> str:
        """``data`` path of the combined rule, slash-separated as OPA's REST API and entrypoints want."""
        return f"{ENTRY_PACKAGE.replace('.', '/')}/{RESULTS_RULE}"

    def package_path(self, index: int) -> str:
        return f"{ENTRY_PACKAGE.replace('.', '/')}/{self.package_rule(index)}"

    @cached_property
    def entry_source(self) -> str:
        """Rego v1 source of the entry module (valid for OPA 1.x and regopy alike)."""
        lines = [f"package {ENTRY_PACKAGE}", ""]
        for index, package in enumerate(self.packages):
            verdict = f"_verdict_{index}"
            violations = f"data.{package}.violation"
            if package in self.with_applicable:
                applicable = f"data.{package}.applicable == true"
                lines.append(f'{verdict} := {{"applicable": false}} if not {applicable}')
                lines.append(f'{verdict} := {{"applicable": true, "violation": {violations}}} if {applicable}')
            else:
                lines.append(f'{verdict} := {{"applicable": true, "violation": {violations}}}')
            key = json.dumps(package)
            lines.append(f"{self.package_rule(index)} := [verdict |")
            lines.append(f"\tsome parameters in object.get(input.{PARAMETER_SETS_KEY}, {key}, [])")
            lines.append(f"\tverdict := {verdict} with input.parameters as parameters")
            lines.append("]")
            lines.append("")
        entries = ", ".join(f"{json.dumps(package)}: {self.package_rule(index)}"
                            for index, package in enumerate(self.packages))
        lines.append(f"{RESULTS_RULE} := {{{entries}}}")
        return "\n".join(lines) + "\n"

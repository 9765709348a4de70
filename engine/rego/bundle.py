"""The scan bundle: every policy module plus one generated entry module that evaluates them all.

Evaluating each policy with its own query costs a query per (cluster, policy); the entry
module collects every package's verdicts in one document, so a cluster costs one query. Each
package also gets its own entry rule, queried only when the combined query hits a runtime
error, to find which policy failed while the others keep their verdicts.

Assignments may give one package several parameter sets; the input carries them under
``_parameterSets``. A package whose only set equals ``input.parameters`` is evaluated as is;
otherwise the entry rule evaluates it once per set with ``with input.parameters as ...``, which
regopy pays for by copying the whole input (about 0.15 ms per ``with`` for a 7 KB input), so the
caller puts the most common set in ``input.parameters``. A package absent from
``_parameterSets`` costs nothing. When every package has that one set (the default
assignments, for one), the caller asks ``results_with_input_parameters`` instead, which skips
the per-package set checks (about a quarter of the query).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from engine.rego.modules import RegoModule

ENTRY_PACKAGE = "arcpolicy_internal.scan"
ENTRY_FILE = "arcpolicy_internal_scan.rego"
RESULTS_RULE = "results"
SHARED_RESULTS_RULE = "results_with_input_parameters"
VM_ENTRY_PACKAGE = "arcpolicy_internal.vm"
VM_ENTRY_FILE = "arcpolicy_internal_vm.rego"
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

    @property
    def shared_results_path(self) -> str:
        """``data`` path of the combined rule for inputs where every package's only set is ``input.parameters``."""
        return f"{ENTRY_PACKAGE.replace('.', '/')}/{SHARED_RESULTS_RULE}"

    def combined_path(self, shared: bool) -> str:
        return self.shared_results_path if shared else self.results_path

    def package_path(self, index: int) -> str:
        return f"{ENTRY_PACKAGE.replace('.', '/')}/{self.package_rule(index)}"

    @property
    def vm_results_path(self) -> str:
        """``data`` path of :meth:`vm_entry_source`'s rule."""
        return f"{VM_ENTRY_PACKAGE.replace('.', '/')}/{RESULTS_RULE}"

    def vm_entry_source(self, indices: list[int]) -> str:
        """The shared-results rule over the packages at ``indices`` only (regorus's VM compiles no ``with``)."""
        entries = ", ".join(f"{json.dumps(self.packages[index])}: [data.{ENTRY_PACKAGE}._verdict_{index}]"
                            for index in indices)
        return f"package {VM_ENTRY_PACKAGE}\n\n{RESULTS_RULE} := {{{entries}}}\n"

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
            rule = self.package_rule(index)
            sets = f"input.{PARAMETER_SETS_KEY}[{json.dumps(package)}]"
            lines.append(f"default {rule} := []")
            lines.append(f"{rule} := [{verdict}] if {sets} == [input.parameters]")
            lines.append(f"{rule} := [verdict |")
            lines.append(f"\tsome parameters in {sets}")
            lines.append(f"\tverdict := {verdict} with input.parameters as parameters")
            lines.append(f"] if {sets} != [input.parameters]")
            lines.append("")
        entries = ", ".join(f"{json.dumps(package)}: {self.package_rule(index)}"
                            for index, package in enumerate(self.packages))
        lines.append(f"{RESULTS_RULE} := {{{entries}}}")
        shared = ", ".join(f"{json.dumps(package)}: [_verdict_{index}]" for index, package in enumerate(self.packages))
        lines.append(f"{SHARED_RESULTS_RULE} := {{{shared}}}")
        return "\n".join(lines) + "\n"

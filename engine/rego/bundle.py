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
ENTRY_CHUNK = 500  # packages per entry file: about 3,500 lines
VM_OBJECT_ENTRIES = 50  # entries per object literal for regorus's VM (it has 255 registers a rule)
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

    def _verdict_rules(self, index: int) -> list[str]:
        """``_verdict_<index>``: the package's ``applicable`` and ``violation`` (one statement a line)."""
        package = self.packages[index]
        verdict = f"_verdict_{index}"
        violations = f"data.{package}.violation"
        if package not in self.with_applicable:
            return [f'{verdict} := {{"applicable": true, "violation": {violations}}}']
        applicable = f"data.{package}.applicable == true"
        return [f'{verdict} := {{"applicable": false}} if not {applicable}',
                f'{verdict} := {{"applicable": true, "violation": {violations}}} if {applicable}']

    def _object_rule(self, name: str, values: dict[int, str]) -> list[str]:
        """``name := {"<package>": <value>, ...}`` with one entry a line (regorus refuses lines over 1,024 columns)."""
        return [f"{name} := {{", *(f"\t{json.dumps(self.packages[index])}: {value}," for index, value in values.items()),
                "}"]

    def vm_entry_source(self, indices: list[int]) -> str:
        """The shared-results rule over the packages at ``indices`` only (regorus's VM compiles no ``with``).

        Over :data:`VM_OBJECT_ENTRIES` packages, the object is built from parts of that many
        entries (a larger literal overflows the VM's registers).
        """
        lines = [f"package {VM_ENTRY_PACKAGE}", ""]
        for index in indices:
            lines.extend(self._verdict_rules(index))
        if len(indices) <= VM_OBJECT_ENTRIES:
            lines.extend(self._object_rule(RESULTS_RULE, {index: f"[_verdict_{index}]" for index in indices}))
            return "\n".join(lines) + "\n"
        parts = [indices[first:first + VM_OBJECT_ENTRIES] for first in range(0, len(indices), VM_OBJECT_ENTRIES)]
        for number, part in enumerate(parts):
            lines.extend(self._object_rule(f"_part_{number}", {index: f"[_verdict_{index}]" for index in part}))
        lines.append(f"{RESULTS_RULE} := object.union_n([")
        lines.extend(f"\t_part_{number}," for number in range(len(parts)))
        lines.append("])")
        return "\n".join(lines) + "\n"

    @cached_property
    def entry_sources(self) -> tuple[tuple[str, str], ...]:
        """The entry module as ``(file, source)`` pairs, Rego v1 (valid for OPA 1.x, regorus and regopy alike).

        Any number of packages: the packages' rules go in files of :data:`ENTRY_CHUNK` packages
        (regorus refuses files over 20,000 lines), the two combined rules, one entry a line, in the last.
        """
        files = []
        for first in range(0, max(len(self.packages), 1), ENTRY_CHUNK):
            lines = [f"package {ENTRY_PACKAGE}", ""]
            for index in range(first, min(first + ENTRY_CHUNK, len(self.packages))):
                lines.extend(self._verdict_rules(index))
                rule = self.package_rule(index)
                sets = f"input.{PARAMETER_SETS_KEY}[{json.dumps(self.packages[index])}]"
                lines.append(f"default {rule} := []")
                lines.append(f"{rule} := [_verdict_{index}] if {sets} == [input.parameters]")
                lines.append(f"{rule} := [verdict |")
                lines.append(f"\tsome parameters in {sets}")
                lines.append(f"\tverdict := _verdict_{index} with input.parameters as parameters")
                lines.append(f"] if {sets} != [input.parameters]")
                lines.append("")
            files.append("\n".join(lines))
        every = range(len(self.packages))
        combined = [*self._object_rule(RESULTS_RULE, {index: self.package_rule(index) for index in every}),
                    *self._object_rule(SHARED_RESULTS_RULE, {index: f"[_verdict_{index}]" for index in every})]
        files[-1] += "\n".join(combined) + "\n"
        return tuple((ENTRY_FILE if number == 0 else ENTRY_FILE.replace(".rego", f"_{number}.rego"), source)
                     for number, source in enumerate(files))

"""At least 99% of Microsoft's deployIfNotExists-capable built-ins expand offline against a
synthetic resource of their ``if`` type (see tests/template/corpus.py); the others fail with a
clear TemplateError naming the expression, never an internal error."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from remediation.template import DineDeployment, TemplateError
from template.corpus import ASSIGNMENT_ID, CORPUS, dine_definitions, parameters_of, synthetic_resource


def test_dine_builtins_expand_offline(record_property: Callable[[str, object], None]) -> None:
    definitions = dine_definitions()
    assert len(definitions) == 1049  # release 3.2026.0417.1 of the corpus
    failures: Counter[str] = Counter()
    expanded = 0
    for path, document in definitions:
        properties = document["properties"]
        resource = synthetic_resource(path, properties)
        try:
            written = DineDeployment.from_definition(document, str(path)).expand(
                resource, parameters_of(properties, resource["location"]), ASSIGNMENT_ID)
        except TemplateError as error:
            line = error.one_line()
            assert "\n" not in line and str(path) in line and "(got \"[" in line, line  # names the expression
            failures[f"{path.relative_to(CORPUS)}: {line.split(': ', 1)[-1][:160]}"] += 1
            continue
        assert all(item.resource_id.startswith("/") and item.api_version for item in written), path
        expanded += 1
    record_property("figure", f"{expanded} of {len(definitions)} deployIfNotExists-capable built-ins expand offline")
    for failure in sorted(failures):
        print("  not expanded:", failure)
    assert expanded >= 0.99 * len(definitions)

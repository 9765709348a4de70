"""docs/arcpolicy.schema.json, the JSON Schema editors validate and complete arcpolicy.toml with: generated from
the pydantic config model (``python -m engine.config``), checked in, and agreeing with the loader on what a
file may hold."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest

from engine.config import config_json_schema, load_config
from engine.errors import InputError

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "docs" / "arcpolicy.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_checked_in_schema_is_the_one_the_model_generates() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == config_json_schema(), (
        "docs/arcpolicy.schema.json is stale: python -m engine.config > docs/arcpolicy.schema.json")


def test_every_key_is_described_for_editors(validator) -> None:
    schema = validator.schema
    sections = [schema, *schema["$defs"].values()]
    for section in sections:
        for name, field in section.get("properties", {}).items():
            assert field.get("description"), name


def test_the_readme_config_is_valid(validator) -> None:
    [block] = re.findall(r"^```toml\n(.*?)^```", (REPO / "README.md").read_text(), re.MULTILINE | re.DOTALL)
    document = tomllib.loads(block)
    assert not list(validator.iter_errors(document))
    assert set(document) == set(validator.schema["properties"])  # the README shows every section


# (TOML text, valid): the schema and the loader must give the same verdict.
DOCUMENTS = [
    ('[scan]\npolicies = ["builtin:"]\nassignments = "a.json"\n', True),
    ('[scan]\nassignments = ["a.json", "b.json"]\nexpiry_warning = "30d"\n', True),
    ('[scan]\nexpiry_warning = 0\n', True),
    ('[scan]\nexpiry_warning = "1h30m"\n', True),
    ('[scan]\nexpiry_warning = "soon"\n', False),
    ('[scan]\nexpiry_warning = -5\n', False),
    ('[scan]\nworkers = 0\n', False),
    ('[scan]\ncredential = "magic"\n', False),
    ('[scan]\npolicy = ["x"]\n', False),  # a typo of policies
    ('[sacn]\n', False),
    ('[[outputs]]\nformat = "junit"\npath = "out.xml"\n', True),
    ('[[outputs]]\nformat = "docx"\npath = "out.docx"\n', False),
    ('[[outputs]]\nformat = "json"\n', False),
    ('[store]\nurl = "postgresql+psycopg://arcpolicy@db/arcpolicy"\nkeep = "90d"\n', True),
    ('[store]\nkeep = "ninety days"\n', False),
    ('[schedule]\ncron = "0 */6 * * *"\njitter = "5m"\nremediate = true\n', True),
    ('[schedule]\nremediate = "maybe"\n', False),
    ('[logging]\nformat = "json"\nlevel = "info"\n', True),
    ('[logging]\nlevel = "trace"\n', False),
]


@pytest.mark.parametrize(("text", "valid"), DOCUMENTS)
def test_schema_and_loader_agree(validator, tmp_path: Path, text: str, valid: bool) -> None:
    path = tmp_path / "arcpolicy.toml"
    path.write_text(text)
    try:
        load_config(path)
        loaded = True
    except InputError:
        loaded = False
    assert (loaded, validator.is_valid(tomllib.loads(text))) == (valid, valid)

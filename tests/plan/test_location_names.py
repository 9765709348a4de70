"""A cluster whose ``location`` is written as a display name ("East US", as the 2024-01-01 GetCluster example
has it) plans as ARM holds it ("eastus"): the Defender DINE built-in maps the name to its region code."""

from __future__ import annotations

import json
from pathlib import Path

from engine.cli.main import main
from engine.ids import location_name
from engine.inventory import Fleet
from remediation.plan.io import read_plan

from .builders import BUILTINS, DEFENDER, cluster


def test_location_name_is_what_arm_returns() -> None:
    assert [location_name(text) for text in ("East US", "East US 2", "eastus2", "West Central US", "global")] == [
        "eastus", "eastus2", "eastus2", "westcentralus", "global"]


def test_defender_dine_plans_a_cluster_located_by_display_name(tmp_path: Path, capsys) -> None:
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps([cluster("c1", location="East US"), cluster("c2", location="West Europe")]))
    out = tmp_path / "plan.json"
    assert main(["plan", "-i", str(fleet), "-p", str(BUILTINS / DEFENDER), "-o", str(out), "--workers", "1"]) == 0
    operations = read_plan(out).to_json()["operations"]
    groups = {operation["resourceId"] for operation in operations
              if operation["resourceType"].lower() == "microsoft.resources/resourcegroups"}
    assert {group.rsplit("/", 1)[-1] for group in groups} == {"DefaultResourceGroup-EUS", "DefaultResourceGroup-WEU"}
    locations = {(operation.get("body") or {}).get("location") for operation in operations} - {None}
    assert locations == {"eastus", "westeurope"}  # what ARM would hold, never the display name
    capsys.readouterr()


def test_fleet_holds_the_location_name() -> None:
    fleet = Fleet([cluster("c1", location="East US")])
    assert [item.resource["location"] for item in fleet.clusters()] == ["eastus"]

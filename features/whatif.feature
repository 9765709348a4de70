Feature: Preview a policy change on the fleet of a stored scan (what-if)
  Before a policy change is merged and assigned, its authors and reviewers see what it does to the
  real fleet: the policy set of the pull request is evaluated over the inventory the latest stored
  scan kept, and compared with that scan's verdicts. Exit 1 when something becomes non-compliant.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" pinned to version "1.13.1"
    And a connected cluster "store-2" running "k3s" in "westeurope"
    And it has the extension "microsoft.flux" pinned to version "1.14.1"
    And scans are recorded in the history store "history.db"
    And the policy "policies/rego/pinned_versions_allowed.rego" is assigned as "pinned-versions" with the parameters:
      | allowedVersions | {"microsoft.flux": ["1.13.1", "1.14.0", "1.14.1"]} |
    When the fleet is scanned with the policies "policies/rego/pinned_versions_allowed.rego" and "policies/rego/lib"

  Scenario: Shortening the allowed versions makes the clusters on the dropped version non-compliant
    Given the assignment "pinned-versions" is changed to the parameters:
      | allowedVersions | {"microsoft.flux": ["1.14.0", "1.14.1"]} |
    When the change is previewed with the policies "policies/rego/pinned_versions_allowed.rego" and "policies/rego/lib"
    Then "store-1" becomes non-compliant with "pinned-versions" because "1.13.1"
    And the preview counts 1 newly non-compliant records
    And arcpolicy exits with status 1
    And the preview's Markdown fits a pull-request comment
    And the file "whatif.md" contains "| `pinned-versions` | `Pinned extension versions are in the allowed list` | 0 | 1 | 1 | 0 | 0 | 0 |"

  Scenario: Widening the list again makes the cluster compliant, and nothing becomes non-compliant
    Given the assignment "pinned-versions" is changed to the parameters:
      | allowedVersions | {"microsoft.flux": ["1.14.0", "1.14.1"]} |
    When the fleet is scanned with the policies "policies/rego/pinned_versions_allowed.rego" and "policies/rego/lib"
    And the change is previewed with the policies "policies/rego/pinned_versions_allowed.rego" and "policies/rego/lib"
    Then the preview counts 0 newly non-compliant records
    And arcpolicy exits with status 0
    Given the assignment "pinned-versions" is changed to the parameters:
      | allowedVersions | {"microsoft.flux": ["1.13.1", "1.14.0", "1.14.1"]} |
    When the change is previewed with the policies "policies/rego/pinned_versions_allowed.rego" and "policies/rego/lib"
    Then "store-1" becomes compliant with "pinned-versions"
    And arcpolicy exits with status 0

  Scenario: A definition the change adds is named, with the clusters it finds non-compliant
    Given the policy "policies/rego/monitoring_required.rego" is assigned as "monitoring"
    When the change is previewed with the policies "policies/rego/pinned_versions_allowed.rego", "policies/rego/monitoring_required.rego" and "policies/rego/lib"
    Then the preview names the definition "monitoring_required" as added
    And "store-2" becomes non-compliant with "monitoring" because "Azure Monitor"
    And the preview counts 2 newly non-compliant records
    And arcpolicy exits with status 1

  Scenario: A baseline that does not exist is bad input
    When I run "arcpolicy whatif --store history.db --policy ../policies/rego --baseline nope"
    Then arcpolicy exits with status 2
    And the error output contains "no scan with this id"

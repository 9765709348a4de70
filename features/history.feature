Feature: Scan history and what changed between scans
  Scans recorded in a history store can be listed and compared: a cluster that became
  non-compliant (or was fixed) between two scans is named, with the reasons.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.policyinsights" on the "Stable" train
    And a connected cluster "store-2" running "k3s" in "eastus"
    And scans are recorded in the history store "history.db"
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"

  Scenario: A cluster that lost its extension became non-compliant
    Given "store-1" loses the extension "microsoft.policyinsights"
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    And the last two scans are compared
    Then "store-1" became non-compliant with "6b2122c1-8120-4ff5-801b-17625a355590"
    And arcpolicy exits with status 1
    And the history holds 2 scans

  Scenario: A cluster that got the extension was fixed
    Given "store-2" gets the extension "microsoft.policyinsights" on the "Stable" train
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    And the last two scans are compared
    Then "store-2" was fixed for "6b2122c1-8120-4ff5-801b-17625a355590"
    And arcpolicy exits with status 0

  Scenario: The history lists stored scans, newest first
    When I run "arcpolicy history --store history.db --format json"
    Then arcpolicy exits with status 0
    And the history holds 1 scans
    And the output contains "compliancePercentage"

Feature: Inventory from Azure Resource Graph
  arcpolicy reads clusters and their extensions live through Resource Graph with the real
  Azure SDK clients (the sandbox serves them over HTTPS), paging and retrying as Azure needs.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    And it has the extension "microsoft.policyinsights" on the "Stable" train
    And a connected cluster "plant-1" running "openshift" in "westeurope"
    And its connectivity status is "Offline"
    And it has the extension "microsoft.flux" in the "Failed" state
    And an AKS cluster "hq-1" in "eastus"
    And the sandbox serves the fleet

  Scenario: The fleet read from Resource Graph is the fleet that was served
    When the fleet is read from Resource Graph
    Then the inventory counts 3 clusters and 3 extensions
    And the inventory counts 1 clusters with connectivity "Offline"
    And the inventory counts 1 extensions in state "Failed"
    And the inventory counts 2 extensions of type "microsoft.flux"

  Scenario: Throttled Resource Graph queries are retried
    Given Resource Graph fails the next 2 requests with status 429
    When the fleet is read from Resource Graph
    Then the inventory counts 3 clusters and 3 extensions
    And the sandbox injected 2 faults

  Scenario: The fleet read from Resource Graph is saved as a snapshot that reads back the same
    When the fleet is read from Resource Graph and saved to "pulled.json"
    Then the snapshot "pulled.json" holds the fleet that was served
    When the inventory "pulled.json" is summarised
    Then the inventory counts 3 clusters and 3 extensions
    And the inventory counts 1 extensions in state "Failed"

  Scenario: The live fleet is scanned through Resource Graph
    When the fleet is scanned through Resource Graph with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then arcpolicy exits with status 1
    And "store-1" is compliant with "Azure Policy extension"
    And "plant-1" is non-compliant with "Azure Policy extension" because "no related Microsoft.KubernetesConfiguration/extensions"
    And "hq-1" is not evaluated by "Azure Policy extension"

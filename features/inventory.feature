Feature: Inventory from a snapshot
  An operator points arcpolicy at a snapshot of the fleet (a JSON list of ARM resources,
  an ARM list page, a Resource Graph response or NDJSON) and sees what is there.

  Scenario: A described fleet is counted by distribution, connectivity and extension
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    And it has the extension "microsoft.policyinsights" in the "Failed" state
    And a connected cluster "store-2" running "aks_edge_essentials" in "westeurope"
    And its connectivity status is "Offline"
    And it has the extension "microsoft.flux" pinned to version "1.14.1"
    And an AKS cluster "hq-1" in "eastus"
    When the fleet inventory is summarised
    Then the inventory counts 3 clusters and 3 extensions
    And the inventory counts 1 clusters of distribution "k3s"
    And the inventory counts 1 clusters of type "managedClusters"
    And the inventory counts 1 clusters with connectivity "Offline"
    And the inventory counts 2 extensions of type "microsoft.flux"
    And the inventory counts 1 extensions in state "Failed"

  Scenario: A generated fleet is deterministic and summarised as a table
    Given a fleet of 12 generated clusters with seed 7
    When I run "arcpolicy inventory --inventory generated.json"
    Then arcpolicy exits with status 0
    And the output contains "Fleet: 12 clusters"
    And the output contains "microsoft.flux"

  Scenario: The bundled demo fleet
    Given the snapshot "examples/demo-fleet.json"
    When the fleet inventory is summarised
    Then the inventory counts 40 clusters and 162 extensions
    And the inventory counts 2 subscriptions
    And the inventory counts 2 clusters of type "managedClusters"
    And the inventory counts 7 clusters with connectivity "Offline"

  Scenario: Clusters in several subscriptions
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And a connected cluster "store-2" running "k3s" in "eastus"
    And it is in the subscription "11111111-0000-0000-0000-000000000002"
    And it is in the resource group "rg-stores-east"
    When the fleet inventory is summarised
    Then the inventory counts 2 clusters and 0 extensions
    And the inventory counts 2 subscriptions

  Scenario Outline: Every snapshot shape reads the same fleet
    Given a file "fleet.<extension>" containing:
      """
      <content>
      """
    When the inventory "fleet.<extension>" is summarised
    Then the inventory counts 1 clusters and 0 extensions
    And the inventory counts 1 clusters of type "connectedClusters"

    Examples:
      | shape          | extension | content |
      | JSON list      | json      | [{"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1", "type": "Microsoft.Kubernetes/connectedClusters", "properties": {"distribution": "k3s"}}] |
      | ARM list page  | json      | {"value": [{"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1", "type": "Microsoft.Kubernetes/connectedClusters"}]} |
      | Resource Graph | json      | {"data": [{"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1", "type": "microsoft.kubernetes/connectedclusters"}]} |
      | NDJSON         | ndjson    | {"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1", "type": "Microsoft.Kubernetes/connectedClusters"} |

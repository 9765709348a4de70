Feature: Remediation plan and dry-run report
  arcpolicy plan works out every ARM write that remediates deployIfNotExists findings, without
  writing any: which extension goes where, what it would not do and why, in canary-first waves,
  with an HTML and a Markdown report to review.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And a connected cluster "store-2" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    And it has the extension "microsoft.policyinsights" on the "Stable" train

  Scenario: Missing extensions are planned, present ones left alone
    When the remediation is planned with the policies "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json" and "../shared/azure-policy-builtins/ArcPolicyExtension_DINE.json"
    Then the plan creates the extension "flux" on "store-1"
    And the plan creates the extension "azurepolicy" on "store-1"
    And the plan leaves "store-2" alone
    And the plan has 2 operations
    And arcpolicy exits with status 0

  Scenario: The dry-run reports say what would change
    When the remediation is planned with the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json"
    Then the file "plan.md" contains "1 operations: 1 planned, 0 skipped, 0 deferred, 0 waiting"
    And the file "plan.html" contains "store-1"
    And the file "plan.json" contains "op-0001"

  Scenario: On an arm64-only cluster only Flux and Defender are installed
    Given a connected cluster "pi-1" running "k3s" in "westeurope"
    And its nodes are "arm64"
    When the remediation is planned with the policies "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json" and "../shared/azure-policy-builtins/ArcPolicyExtension_DINE.json"
    Then the plan creates the extension "flux" on "pi-1"
    And the plan holds the extension "azurepolicy" on "pi-1" as skipped because "the cluster's nodes are all arm64"
    And the plan creates the extension "azurepolicy" on "store-1"

  Scenario Outline: A disconnected cluster gets the change when it reconnects
    Given a connected cluster "ship-1" running "k3s" in "northeurope"
    And its connectivity status is "<status>"
    When the remediation is planned with the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json"
    Then the plan holds the extension "flux" on "ship-1" as waiting because "the cluster is not connected"
    And the plan creates the extension "flux" on "store-1"

    Examples:
      | status  |
      | Offline |
      | Expired |

  Scenario: Protected settings are deferred for a disconnected cluster
    Given a connected cluster "ship-2" running "k3s" in "northeurope"
    And its connectivity status is "Offline"
    When the remediation is planned with the policy "../shared/azure-policy-builtins/ASC_Azure_Defender_Arc_Extension_DINE.json"
    Then the plan holds the extension "microsoft.azuredefender.kubernetes" on "ship-2" as deferred because "configurationProtectedSettings, which are kept only 48 hours"
    And the plan creates the extension "microsoft.azuredefender.kubernetes" on "store-1"

  Scenario: A cluster-scoped extension installed under another name is updated, not duplicated
    Given a connected cluster "store-3" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" pinned to version "1.13.1"
    And its "microsoft.flux" extension is named "gitops"
    When the remediation is planned with the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json"
    Then the plan updates the extension "gitops" on "store-3"

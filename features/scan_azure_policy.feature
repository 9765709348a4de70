Feature: Scanning with Microsoft's built-in Azure Policy definitions
  The fleet is scanned with the real built-in definitions for Arc extensions; every cluster
  gets a record in Azure's policy-states shape, with the reason that decided it.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.policyinsights" on the "Stable" train
    And a connected cluster "store-2" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    And a connected cluster "store-3" running "eks" in "westus2"
    And it has the extension "microsoft.policyinsights" in the "Failed" state
    And a connected cluster "hci-1" running "aks" in "eastus"

  Scenario: The Azure Policy extension audit finds the clusters without a healthy extension
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then "store-1" is compliant with "Azure Policy extension installed"
    And "store-2" is non-compliant with "6b2122c1-8120-4ff5-801b-17625a355590" because "no related Microsoft.KubernetesConfiguration/extensions satisfies the existence condition"
    And "store-3" is non-compliant with "6b2122c1-8120-4ff5-801b-17625a355590" because "provisioningState does not equal 'Succeeded' (actual 'Failed')"
    And "hci-1" is not evaluated by "6b2122c1-8120-4ff5-801b-17625a355590"
    And arcpolicy exits with status 1

  Scenario: notScopes take a cluster out of an assignment
    Given the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" is assigned as "policy-addon"
    And the assignment "policy-addon" excludes "store-2"
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then "store-2" is not evaluated by "policy-addon"
    And "store-3" is non-compliant with "policy-addon"
    And "store-1" is compliant with "policy-addon"

  Scenario: A resource group in notScopes is left out
    Given a connected cluster "lab-1" running "k3s" in "eastus"
    And it is in the resource group "rg-lab"
    And the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" is assigned as "policy-addon"
    And the assignment "policy-addon" excludes the resource group "rg-lab"
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then "lab-1" is not evaluated by "policy-addon"
    And "store-2" is non-compliant with "policy-addon"

  Scenario Outline: An exemption turns a non-compliant cluster into an exempt one
    Given the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" is assigned as "policy-addon"
    And "store-2" is exempt from "policy-addon" as a "<category>"
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then "store-2" is exempt from "policy-addon"
    And "store-3" is non-compliant with "policy-addon"
    And the scan has 1 exempt records

    Examples:
      | category  |
      | Waiver    |
      | Mitigated |

  Scenario: The Disabled effect parameter turns the audit off
    Given the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" is assigned as "policy-addon" with the parameters:
      | parameter | value    |
      | effect    | Disabled |
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then the scan has 0 non-compliant records
    And arcpolicy exits with status 0

  Scenario: A definition whose parameters have no default is not evaluated without an assignment
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-to-Kubernetes-cluster-SSH_DINE.json"
    Then arcpolicy exits with status 0
    And the scan has 0 non-compliant records
    And the error output contains "not evaluated: parameters 'configurationName', 'repositoryUrl', 'keyVaultSecretName' and 'keyVaultName' have no default; assign them with --assignment"

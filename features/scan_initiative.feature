Feature: Scanning with an initiative of built-in definitions
  An initiative (policy set) groups definitions; each member gets its own records under its
  policyDefinitionReferenceId, and an exemption can waive a single member.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.policyinsights" on the "Stable" train
    And a connected cluster "plant-1" running "openshift" in "westeurope"
    And it has the extension "microsoft.azuredefender.kubernetes" on the "Stable" train
    And it has the extension "microsoft.policyinsights" on the "Stable" train
    And an AKS cluster "hq-1" in "eastus"
    And a file "arc-baseline.json" containing:
      """
      {"name": "arc-baseline", "type": "Microsoft.Authorization/policySetDefinitions",
       "properties": {"displayName": "Arc baseline", "policyDefinitions": [
         {"policyDefinitionReferenceId": "policy-addon",
          "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/6b2122c1-8120-4ff5-801b-17625a355590"},
         {"policyDefinitionReferenceId": "defender",
          "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/8dfab9c4-fe7b-49ad-85e4-1e9be085358f"},
         {"policyDefinitionReferenceId": "aks-backup",
          "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/fda9cd0b-094c-4cd5-ac2a-5e06e5277c45"}]}}
      """
    And the policy "arc-baseline.json" is assigned as "baseline"

  Scenario: Every member of the initiative decides on its own
    When the fleet is scanned with the policies "arc-baseline.json", "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json", "../shared/azure-policy-builtins/ASC_Azure_Defender_Arc_Extension_Audit.json" and "../shared/azure-policy-builtins/Kubernetes_InstallAzureBackupExtension_Audit.json"
    Then "store-1" is compliant with "policy-addon"
    And "store-1" is non-compliant with "defender" because "microsoft.azuredefender.kubernetes"
    And "plant-1" is compliant with "defender"
    And "hq-1" is non-compliant with "aks-backup"
    And "hq-1" is not evaluated by "policy-addon"

  Scenario: An exemption from one member leaves the other members in force
    Given "store-1" is exempt from "defender" of "baseline" as a "Mitigated"
    When the fleet is scanned with the policies "arc-baseline.json" and "../shared/azure-policy-builtins"
    Then "store-1" is exempt from "defender"
    And "store-1" is compliant with "policy-addon"
    And "hq-1" is non-compliant with "aks-backup"

Feature: Assignments at management-group scope
  An assignment at a management group covers the subscriptions under it, directly or through child
  groups; scans learn which subscription is in which group from --management-groups FILE.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it is in the subscription "11111111-1111-4111-8111-111111111111"
    And a connected cluster "plant-1" running "k3s" in "westeurope"
    And it is in the subscription "22222222-2222-4222-8222-222222222222"
    And a connected cluster "lab-1" running "k3s" in "eastus"
    And it is in the subscription "33333333-3333-4333-8333-333333333333"
    And the subscription "11111111-1111-4111-8111-111111111111" is in the management group "retail"
    And the subscription "11111111-1111-4111-8111-111111111111" is in the management group "contoso"
    And the subscription "22222222-2222-4222-8222-222222222222" is in the management group "factories"
    And the subscription "22222222-2222-4222-8222-222222222222" is in the management group "contoso"

  Scenario: An assignment at a management group covers only its subscriptions
    Given the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" is assigned as "retail-policy-extension" at the management group "retail"
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then "store-1" is non-compliant with "retail-policy-extension"
    And "plant-1" is not evaluated by "retail-policy-extension"
    And "lab-1" is not evaluated by "retail-policy-extension"

  Scenario: An assignment at a parent group covers the subscriptions of its child groups
    Given the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" is assigned as "contoso-policy-extension" at the management group "contoso"
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then "store-1" is non-compliant with "contoso-policy-extension"
    And "plant-1" is non-compliant with "contoso-policy-extension"
    And "lab-1" is not evaluated by "contoso-policy-extension"
    And the scan has 2 non-compliant records

Feature: Every store runs Flux from the Stable train
  Contoso's stores are Arc-enabled k3s clusters that deploy with GitOps. The policy
  "contoso-flux-stable" audits that each runs a healthy Flux extension on the Stable train.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    And a connected cluster "store-2" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Preview" train
    And a connected cluster "store-3" running "k3s" in "westus2"

  Scenario: Stores without Flux on the Stable train are non-compliant
    When the fleet is scanned with the policy "policies/flux-stable.json"
    Then "store-1" is compliant with "contoso-flux-stable"
    And "store-2" is non-compliant with "contoso-flux-stable" because "releaseTrain does not equal 'Stable' (actual 'Preview')"
    And "store-3" is non-compliant with "contoso-flux-stable" because "no related Microsoft.KubernetesConfiguration/extensions"

  Scenario: A store being rebuilt is exempt for now
    Given the policy "policies/flux-stable.json" is assigned as "flux-stable"
    And "store-3" is exempt from "flux-stable" as a "Waiver"
    When the fleet is scanned with the policy "policies/flux-stable.json"
    Then "store-3" is exempt from "flux-stable"
    And "store-2" is non-compliant with "flux-stable"

  Scenario: The Preview train is accepted where the assignment says so
    Given the policy "policies/flux-stable.json" is assigned as "flux-preview" with the parameters:
      | parameter    | value   |
      | releaseTrain | Preview |
    When the fleet is scanned with the policy "policies/flux-stable.json"
    Then "store-2" is compliant with "flux-preview"
    And "store-1" is non-compliant with "flux-preview"

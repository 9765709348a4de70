Feature: Stores run Flux locked down to multi-tenancy
  The Rego policy "contoso.flux" wants every store's Flux extension to enforce
  multi-tenancy, and says how to fix a store that does not.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    And its "microsoft.flux" extension has the setting "multiTenancy.enforce" set to "true"
    And a connected cluster "store-2" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    And a connected cluster "store-3" running "k3s" in "westus2"
    And an AKS cluster "hq-1" in "eastus"

  Scenario: Open or missing Flux is non-compliant
    When the fleet is scanned with the policy "policies/flux.rego"
    Then "store-1" is compliant with "flux"
    And "store-2" is non-compliant with "flux" because "does not enforce multi-tenancy"
    And "store-3" is non-compliant with "flux" because "Flux is not installed"
    And "hq-1" is not evaluated by "flux"

  Scenario: The plan locks Flux down where it is open and installs it where it is missing
    When the remediation is planned with the policy "policies/flux.rego"
    Then the plan updates the extension "flux" on "store-2"
    And the plan creates the extension "flux" on "store-3"
    And the plan leaves "store-1" alone

  Scenario: The policy's unit tests pass
    When I run "arcpolicy test policies/"
    Then arcpolicy exits with status 0
    And the output contains "PASS: 3/3"

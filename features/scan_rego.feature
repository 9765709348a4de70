Feature: Scanning with Rego policies, alone and mixed with Azure Policy
  Rego policies (a package with a violation rule, described by METADATA) are evaluated per
  cluster with the embedded engine; their records have the same shape as Azure Policy's, so
  both kinds mix in one scan.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the tag "environment" set to "production"
    And it has the extension "microsoft.flux" on the "Preview" train
    And a connected cluster "store-2" running "k3s" in "eastus"
    And it has the tag "environment" set to "dev"
    And it has the extension "microsoft.flux" pinned to version "1.14.1"
    And it has the extension "microsoft.policyinsights" on the "Stable" train
    And an AKS cluster "hq-1" in "eastus"

  Scenario: The shipped Rego library decides each cluster, with the violation as the reason
    When the fleet is scanned with the policy "policies/rego"
    Then "store-1" is compliant with "flux_auto_upgrade"
    And "store-2" is non-compliant with "flux_auto_upgrade" because "does not auto-upgrade minor versions"
    And "store-1" is non-compliant with "no_preview_in_production" because "Preview release train in production"
    And "store-2" is not evaluated by "no_preview_in_production"

  Scenario: Rego and Azure Policy in one scan
    When the fleet is scanned with the policies "policies/rego" and "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then "store-1" is non-compliant with "6b2122c1-8120-4ff5-801b-17625a355590"
    And "store-2" is compliant with "6b2122c1-8120-4ff5-801b-17625a355590"
    And "store-2" is non-compliant with "flux_auto_upgrade"
    And arcpolicy exits with status 1

  Scenario: A Rego violation with a remediation is planned
    When the remediation is planned with the policies "policies/rego/flux_auto_upgrade.rego" and "policies/rego/lib"
    Then the plan updates the extension "flux" on "store-2"
    And the plan leaves "hq-1" alone
    And the plan leaves "store-1" alone

  Scenario: A Rego policy that does not compile is skipped, naming the file, the line and the column
    Given a file "policies/broken.rego" containing:
      """
      package contoso.broken

      violation contains msg if {
      """
    When the fleet is scanned with the policy "policies/broken.rego"
    Then arcpolicy exits with status 0
    And the scan has 0 compliant records
    And the error output contains "broken.rego:4:1: expecting expression (policy skipped)"

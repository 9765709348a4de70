Feature: Reproduce a past scan from the inventory the store kept
  Every stored scan keeps the inventory it evaluated (content-addressed per cluster, secrets blanked),
  so a past scan can be evaluated again exactly, or its fleet saved as a snapshot, even after the
  fleet changed.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the tag "environment" set to "production"
    And it has the extension "microsoft.flux" on the "Preview" train
    And a connected cluster "store-2" running "k3s" in "eastus"
    And it has the tag "environment" set to "production"
    And it has the extension "microsoft.flux" on the "Stable" train
    And scans are recorded in the history store "history.db"
    When the fleet is scanned with the policies "policies/rego/no_preview_in_production.rego" and "policies/rego/lib"

  Scenario: A past scan is scanned again after the fleet changed
    Given "store-1" loses the extension "microsoft.flux"
    When the fleet is scanned with the policies "policies/rego/no_preview_in_production.rego" and "policies/rego/lib"
    Then "store-1" is compliant with "no_preview_in_production"
    When the stored fleet of scan "latest~1" is scanned with the policies "policies/rego/no_preview_in_production.rego" and "policies/rego/lib"
    Then "store-1" is non-compliant with "no_preview_in_production" because "Preview"
    And "store-2" is compliant with "no_preview_in_production"
    And the history holds 3 scans

  Scenario: The stored fleet is saved as a snapshot
    When the stored fleet of scan "latest" is saved to "past.json"
    Then the snapshot "past.json" holds the fleet that was served

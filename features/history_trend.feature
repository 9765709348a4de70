Feature: Compliance over time, on SQLite and PostgreSQL
  Every recorded scan keeps its policy states; arcpolicy trend charts compliance per policy over the
  stored scans (HTML with inline charts, and an SVG to embed), from a SQLite file or PostgreSQL.
  A policy's line is one assignment (and one initiative member), labelled with the definition's
  display name, and with the assignment's name when two lines would otherwise share it.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.policyinsights" on the "Stable" train
    And a connected cluster "store-2" running "k3s" in "eastus"
    And the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" is assigned as "policy-extension"

  Scenario: The trend shows each policy's compliance scan after scan
    Given the policy "../shared/azure-policy-builtins/ASC_Azure_Defender_Arc_Extension_Audit.json" is assigned as "defender"
    And scans are recorded in the history store "history.db"
    When the fleet is scanned with the policies "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" and "../shared/azure-policy-builtins/ASC_Azure_Defender_Arc_Extension_Audit.json"
    Given "store-2" gets the extension "microsoft.policyinsights" on the "Stable" train
    When the fleet is scanned with the policies "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" and "../shared/azure-policy-builtins/ASC_Azure_Defender_Arc_Extension_Audit.json"
    Given "store-1" gets the extension "microsoft.azuredefender.kubernetes" on the "Stable" train
    When the fleet is scanned with the policies "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" and "../shared/azure-policy-builtins/ASC_Azure_Defender_Arc_Extension_Audit.json"
    And the trend is charted
    Then arcpolicy exits with status 0
    And the trend shows "policy-extension" at "50%, 100%, 100%"
    And the trend shows "defender" at "0%, 0%, 50%"
    And the trend shows "all policies" at "25%, 50%, 75%"
    And the trend shows "overall resource compliance" at "0%, 0%, 50%"
    And the trend labels "defender" as "[Preview]: Azure Arc enabled Kubernetes clusters should have Microsoft Defender for Cloud extension installed"
    And the file "trend.html" contains "3 scans"
    And the file "trend.html" contains "Per subscription"

  Scenario: Two assignments of one built-in definition are two lines, told apart by the assignment names
    Given the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" is assigned as "policy-extension-store-2"
    And the assignment "policy-extension-store-2" excludes "store-1"
    And scans are recorded in the history store "history.db"
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Given "store-2" gets the extension "microsoft.policyinsights" on the "Stable" train
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    And the trend is charted
    Then the trend shows "policy-extension" at "50%, 100%"
    And the trend shows "policy-extension-store-2" at "0%, 100%"
    And the trend labels "policy-extension" as "Azure Arc enabled Kubernetes clusters should have the Azure Policy extension installed (policy-extension)"
    And the trend labels "policy-extension-store-2" as "Azure Arc enabled Kubernetes clusters should have the Azure Policy extension installed (policy-extension-store-2)"
    And the trend shows "all policies" at "33.3%, 100%"

  Scenario Outline: Scans in a <store> store are listed, compared and charted
    Given scans are recorded in a fresh "<store>" history store
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Given "store-2" gets the extension "microsoft.policyinsights" on the "Stable" train
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    And the last two scans are compared
    Then "store-2" was fixed for "policy-extension"
    And the history holds 2 scans
    When the trend is charted
    Then the trend shows "policy-extension" at "50%, 100%"

    Examples:
      | store      |
      | sqlite     |
      | postgresql |

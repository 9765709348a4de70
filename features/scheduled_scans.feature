Feature: Scheduled scans
  arcpolicy schedule runs the scan an arcpolicy.toml describes on a cron schedule, writes its
  outputs and records every run in the history store; --once runs a single scan now.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.policyinsights" on the "Stable" train
    And a connected cluster "store-2" running "k3s" in "eastus"
    And scans are recorded in the history store "history.db"

  Scenario: A scheduled run writes its outputs and is recorded in the history
    Given the scan configuration "arcpolicy.toml" for the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json":
      """
      [[outputs]]
      format = "csv"
      path = "latest.csv"

      [schedule]
      cron = "0 */6 * * *"
      """
    When I run "arcpolicy schedule --config arcpolicy.toml --once"
    Then arcpolicy exits with status 1
    And the file "latest.csv" contains "NonCompliant,/subscriptions/00000000-0000-0000-0000-00000000a7c0/resourceGroups/rg-specs/providers/Microsoft.Kubernetes/connectedClusters/store-2"
    And the history holds 1 scans

  Scenario: Two scheduled runs show what changed in between
    Given the scan configuration "arcpolicy.toml" for the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json":
      """
      [schedule]
      cron = "0 */6 * * *"
      """
    When I run "arcpolicy schedule --config arcpolicy.toml --once"
    Given "store-1" loses the extension "microsoft.policyinsights"
    When I run "arcpolicy schedule --config arcpolicy.toml --once"
    And the last two scans are compared
    Then "store-1" became non-compliant with "6b2122c1-8120-4ff5-801b-17625a355590"
    And the history holds 2 scans

  Scenario: A schedule that is not a cron expression is refused
    Given the scan configuration "arcpolicy.toml" for the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json":
      """
      [schedule]
      cron = "every day"
      """
    When I run "arcpolicy schedule --config arcpolicy.toml --once"
    Then arcpolicy exits with status 2
    And the error is "arcpolicy: error: arcpolicy.toml: schedule.cron: a cron expression has five or six fields (minute hour day-of-month month day-of-week, optionally preceded by a seconds field); this one has 2 (got 'every day')"

  Scenario: A schedule every second runs until SIGTERM, recording each run
    Given the scan configuration "arcpolicy.toml" for the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json":
      """
      [schedule]
      cron = "0 */6 * * *"
      """
    When I start "arcpolicy schedule --config arcpolicy.toml --cron '* * * * * *' --health-file health.json"
    And the health file "health.json" counts 2 runs
    And the started command is stopped with SIGTERM
    Then arcpolicy exits with status 0
    And the history holds at least 2 scans
    And the health file "health.json" says "stopped" after at least 2 runs and 0 failures
    And the health file "health.json" names the latest stored scan

  Scenario: A scheduled run remediates the live fleet, and the next run finds it compliant
    Given the sandbox serves the fleet
    And the scan configuration "arcpolicy.toml" for the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json" against the sandbox:
      """
      [schedule]
      cron = "0 */6 * * *"
      work_dir = "runs"
      """
    When I run "arcpolicy schedule --config arcpolicy.toml --once --remediate"
    Then arcpolicy exits with status 1
    And the error output contains "remediation applied"
    When the fleet is read from Resource Graph
    Then the inventory counts 2 extensions of type "microsoft.flux"
    When I run "arcpolicy schedule --config arcpolicy.toml --once"
    Then arcpolicy exits with status 0
    And the history holds 2 scans

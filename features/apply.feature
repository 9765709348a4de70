Feature: Applying a plan through ARM, with faults, resume and idempotence
  arcpolicy apply writes the plan's operations through ARM (the sandbox stands in for Azure):
  paced and retried, journaled so an interrupted run resumes, and safe to run twice.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And a connected cluster "store-2" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    And a connected cluster "store-3" running "k3s" in "westus2"
    And the sandbox serves the fleet
    When the remediation is planned with the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json"

  Scenario: The plan is applied and every missing extension is created
    When the plan is applied
    Then arcpolicy exits with status 0
    And the extension "flux" on "store-1" is succeeded
    And the extension "flux" on "store-3" is succeeded

  Scenario: After the apply, a scan of the live fleet through Resource Graph finds it compliant
    When the fleet is scanned through Resource Graph with the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json"
    Then arcpolicy exits with status 1
    And "store-1" is non-compliant with "Flux extension"
    When the plan is applied
    And the fleet is scanned through Resource Graph with the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-Extension-to-Kubernetes-cluster_DINE.json"
    Then arcpolicy exits with status 0
    And "store-1" is compliant with "Flux extension"
    And "store-3" is compliant with "Flux extension"
    And the scan has 3 compliant records

  Scenario: The canary wave goes first, alone
    When only the canary wave is applied
    Then arcpolicy exits with status 1
    And the apply counts 1 succeeded operations
    And the apply counts 1 not-attempted operations

  Scenario: Applying the same plan twice writes nothing the second time
    When the plan is applied
    And the plan is applied again
    Then arcpolicy exits with status 0
    And the extension "flux" on "store-1" is satisfied
    And the apply writes nothing

  Scenario: Throttling and transient server errors are retried
    Given ARM fails the next 2 requests with status 429
    And ARM fails the next 1 requests with status 503
    When the plan is applied
    Then arcpolicy exits with status 0
    And the apply counts 2 succeeded operations
    And the sandbox injected 3 faults

  Scenario: A failed apply resumes from its journal
    Given ARM fails the next 1 requests with status 409
    When the plan is applied
    Then arcpolicy exits with status 1
    And the apply counts 1 failed operations
    When the apply is resumed
    Then arcpolicy exits with status 0
    And the extension "flux" on "store-1" is succeeded
    And the extension "flux" on "store-3" is succeeded

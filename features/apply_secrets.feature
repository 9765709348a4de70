Feature: Protected settings are applied from secrets and recorded nowhere
  A remediation's protected settings (configurationProtectedSettings) never reach the plan: apply
  re-derives them from the assignment parameters given with --secrets, or reads them from Key Vault,
  and no plan, report, result, journal or output holds them.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    And the sandbox serves the fleet

  Scenario: A protected setting from an assignment parameter comes from --secrets
    Given the policy "custom-policies/contoso-agent.json" is assigned as "contoso-agent" with the parameters:
      | apiKey | contoso-api-key-7f3a9c |
    And a file "secrets.json" containing:
      """
      {"apiKey": "contoso-api-key-7f3a9c"}
      """
    When the remediation is planned with the policy "custom-policies/contoso-agent.json"
    Then the plan creates the extension "contoso-agent" on "store-1"
    And the file "plan.json" contains "<redacted>"
    When the plan is applied
    Then arcpolicy exits with status 2
    And the error output contains "apiKey"
    And the file "apply.json" is not written
    When the plan is applied with the secrets "secrets.json"
    Then arcpolicy exits with status 0
    And the extension "contoso-agent" on "store-1" is succeeded
    And the extension "contoso-agent" on "store-1" has the protected setting "apiKey" set to "contoso-api-key-7f3a9c"
    And the secret "contoso-api-key-7f3a9c" appears in no output

  Scenario: A Flux SSH key is read from Key Vault at apply time
    Given the sandbox's Key Vault "kv-specs" holds the secret "flux-ssh-key" set to "c3NoLWtleS1mb3Itc3BlY3MtOWQy"
    And the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-to-Kubernetes-cluster-SSH_DINE.json" is assigned as "flux-ssh" with the parameters:
      | configurationName   | baseline                                                                                                           |
      | repositoryUrl       | ssh://git@github.com/contoso/baseline                                                                              |
      | repositoryRefBranch | main                                                                                                               |
      | keyVaultName        | /subscriptions/00000000-0000-0000-0000-00000000a7c0/resourceGroups/rg-specs/providers/Microsoft.KeyVault/vaults/kv-specs |
      | keyVaultSecretName  | flux-ssh-key                                                                                                       |
    When the remediation is planned with the policy "../shared/azure-policy-builtins/Deploy-GitOps-Flux2-to-Kubernetes-cluster-SSH_DINE.json"
    And the plan is applied
    Then arcpolicy exits with status 0
    And the flux configuration "baseline" on "store-1" has the protected setting "sshPrivateKey" set to "c3NoLWtleS1mb3Itc3BlY3MtOWQy"
    And the secret "c3NoLWtleS1mb3Itc3BlY3MtOWQy" appears in no output

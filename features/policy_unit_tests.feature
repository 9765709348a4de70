Feature: Policy unit tests
  Rego policies carry their own unit tests (test_* rules, usually in *_test.rego files); arcpolicy test
  runs and reports them as `opa test` does, and exits 1 when one fails.

  Background:
    Given a file "policies/flux.rego" containing:
      """
      # METADATA
      # title: Flux is installed
      # custom:
      #   effect: audit
      package contoso.flux

      applicable if lower(input.resource.type) == "microsoft.kubernetes/connectedclusters"

      violation contains {"msg": "Flux is not installed"} if {
      	not flux_installed
      }

      flux_installed if {
      	some extension in input.extensions
      	extension.properties.extensionType == "microsoft.flux"
      }
      """

  Scenario Outline: Passing and failing unit tests
    Given a file "policies/flux_test.rego" containing:
      """
      package contoso.flux_test

      import data.contoso.flux

      arc := {"type": "Microsoft.Kubernetes/connectedClusters"}

      test_missing_flux_is_a_violation if {
      	count(flux.violation) == 1 with input.resource as arc with input.extensions as []
      }

      test_installed_flux_is_compliant if {
      	count(flux.violation) == <expected> with input.resource as arc with input.extensions as [{"properties": {"extensionType": "microsoft.flux"}}]
      }
      """
    When I run "arcpolicy test -v policies"
    Then arcpolicy exits with status <status>
    And the output contains "data.contoso.flux_test.test_installed_flux_is_compliant: <verdict> ("
    And the output contains "PASS: <passed>/2"

    Examples:
      | expected | status | verdict | passed |
      | 0        | 0      | PASS    | 2      |
      | 2        | 1      | FAIL    | 1      |

  Scenario: The shipped policy library passes its own tests
    When I run "arcpolicy test policies/rego"
    Then arcpolicy exits with status 0
    And the output contains "PASS: "

Feature: Scan output formats
  The same records, written for whoever reads them: JSON in Azure's policy-states shape,
  CSV for spreadsheets, JUnit for CI, Kubernetes PolicyReports, and HTML/Markdown reports.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.policyinsights" on the "Stable" train
    And a connected cluster "store-2" running "k3s" in "eastus"

  Scenario Outline: Each format carries the verdicts
    When I run "arcpolicy scan --inventory {fleet} --policy ../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json --format <format> -o records.<format> --workers 1"
    Then arcpolicy exits with status 1
    And the file "records.<format>" contains "<first>"
    And the file "records.<format>" contains "<second>"

    Examples:
      | format       | first                                                  | second                                   |
      | json         | isCompliant                                            | connectedClusters/store-2                |
      | csv          | complianceState,resourceId,resourceType                | NonCompliant,/subscriptions/             |
      | junit        | <testsuites name=                                      | <failure message=                        |
      | policyreport | kind: ClusterPolicyReport                              | arcpolicy-store-2                        |
      | markdown     | # Compliance report                                    | 50.0%                                    |
      | html         | <!DOCTYPE html>                                        | store-2                                  |

  Scenario: An unknown format is refused before anything is written
    When I run "arcpolicy scan --inventory {fleet} --policy ../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json --format sarif -o records.sarif --workers 1"
    Then arcpolicy exits with status 2
    And the error is "arcpolicy: error: --format: unknown output format; choose one of csv, html, json, junit, markdown, policyreport, table (got 'sarif')"
    And the file "records.sarif" is not written

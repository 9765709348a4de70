Feature: A bad policy, alias or parameter is one line naming the file and the place
  Policy mistakes are found before any cluster is evaluated: the scan exits with status 2,
  prints the file, the place in it and what is wrong, and writes no records.

  Background:
    Given a connected cluster "store-1" running "k3s" in "eastus"

  Scenario: A malformed policy file
    Given a file "broken-policy.json" containing:
      """
      {"properties": {"policyRule": {"if": {"field": "type", "equals": "x"}
      """
    When I run "arcpolicy scan --inventory {fleet} --policy broken-policy.json -o records.json --workers 1"
    Then arcpolicy exits with status 2
    And the error is "arcpolicy: error: broken-policy.json: line 2 column 1: malformed JSON: unexpected end of data"
    And the file "records.json" is not written

  Scenario: A misspelt alias is named with its place in the rule
    Given a file "k3s-only.json" containing:
      """
      {"name": "k3s-only", "properties": {"displayName": "Only k3s", "mode": "Indexed", "policyRule": {
        "if": {"allOf": [{"field": "type", "equals": "Microsoft.Kubernetes/connectedClusters"},
                         {"field": "Microsoft.Kubernetes/connectedClusters/distrbution", "notEquals": "k3s"}]},
        "then": {"effect": "audit"}}}}
      """
    When I run "arcpolicy scan --inventory {fleet} --policy k3s-only.json -o records.json --workers 1"
    Then arcpolicy exits with status 2
    And the error is "arcpolicy: error: k3s-only.json: policyRule.if.allOf[1].field: unknown field or alias 'Microsoft.Kubernetes/connectedClusters/distrbution' (got 'Microsoft.Kubernetes/connectedClusters/distrbution')"
    And the file "records.json" is not written

  Scenario Outline: A bad assignment parameter is refused before the scan
    Given the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json" is assigned as "policy-addon" with the parameters:
      | parameter   | value   |
      | <parameter> | <value> |
    When the fleet is scanned with the policy "../shared/azure-policy-builtins/ArcPolicyExtension_Audit.json"
    Then arcpolicy exits with status 2
    And the error is "arcpolicy: error: assignments.json (item 0): parameters.<parameter>: assignment 'policy-addon': <message>"
    And the file "scan.json" is not written

    Examples:
      | parameter | value | message                                                                                    |
      | effect    | Deny  | parameter 'effect' is not one of the allowedValues ['AuditIfNotExists', 'Disabled'] (got 'Deny') |
      | efect     | Audit | parameter 'efect' is not declared by the definition (declared: effect)                     |

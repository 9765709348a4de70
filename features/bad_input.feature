Feature: Bad input is one line naming the file and the place, with exit status 2
  A user who makes a mistake gets one line that says which file, where in it and what is
  wrong -- never a traceback -- and nothing is written.

  Scenario Outline: A malformed inventory names the file and the place
    Given a file "broken.json" containing:
      """
      <content>
      """
    When I run "arcpolicy inventory --inventory broken.json --format json -o summary.json"
    Then arcpolicy exits with status 2
    And the error is "<error>"
    And the file "summary.json" is not written

    Examples:
      | problem           | content                                                                | error                                                                                          |
      | truncated JSON    | [{"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1", | arcpolicy: error: broken.json: line 2 column 1: malformed JSON: Expecting property name enclosed in double quotes |
      | resource no id    | [{"name": "c1", "type": "Microsoft.Kubernetes/connectedClusters"}]     | arcpolicy: error: broken.json: resource 1: resource has no 'id' (name 'c1')                    |
      | malformed id      | [{"id": "/subscriptions", "type": "Microsoft.Kubernetes/connectedClusters"}] | arcpolicy: error: broken.json: resource 1: malformed resource id (got '/subscriptions')              |
      | not a resource    | {"kind": "fleet"}                                                      | arcpolicy: error: broken.json: line 1: object is neither a resource (no 'id') nor a list of resources (no 'value' or 'data') |

  Scenario: A missing inventory file
    When I run "arcpolicy inventory --inventory nowhere.json"
    Then arcpolicy exits with status 2
    And the error is "arcpolicy: error: nowhere.json: no such file"

# A policy file that carries its own tests, as some authors write them
package authors.fleet.labels

required := {"owner", "environment"}

missing contains label if {
	some label in required
	not input.resource.tags[label]
}

violation contains {"msg": concat(", ", sort(missing))} if count(missing) > 0

test_all_labels_present if {
	count(violation) == 0 with input.resource.tags as {"owner": "platform", "environment": "prod"}
}

test_missing_labels_are_listed if {
	violation == {{"msg": "environment, owner"}} with input.resource.tags as {}
}

test_missing_labels_are_listed if {
	violation == {{"msg": "owner"}} with input.resource.tags as {"environment": "prod", "owner": ""}
}

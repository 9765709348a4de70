package authors.errors.conflicts_test

import data.authors.errors.conflicts

test_gold if {
	conflicts.tier == "gold" with input as {"premium": true}
}

test_both_is_an_error if {
	conflicts.tier == "gold" with input as {"premium": true, "support": true}
}

test_bronze if {
	conflicts.tier == "bronze" with input as {}
}

test_silver_is_missing if {
	conflicts.tier == "silver" with input as {"support": true}
}

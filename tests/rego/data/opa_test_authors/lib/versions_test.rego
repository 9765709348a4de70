package authors.lib.versions_test

import data.authors.lib.versions

# table-driven: each note is a case. test_older fails its false cases (older is undefined there, not false)
cases := [
	{"note": "major behind", "a": "1.9.9", "b": "2.0.0", "older": true},
	{"note": "minor behind", "a": "2.1.0", "b": "2.3.0", "older": true},
	{"note": "patch only", "a": "2.3.0", "b": "2.3.7", "older": false},
	{"note": "ahead", "a": "3.0.0", "b": "2.3.0", "older": false},
]

test_older[tc.note] if {
	some tc in cases
	tc.older == versions.older(tc.a, tc.b)
}

older_or_not(a, b) := true if versions.older(a, b) else := false

# the same table written right: a false case compares with false, not with undefined
test_older_or_not[tc.note] if {
	some tc in cases
	older_or_not(tc.a, tc.b) == tc.older
}

test_parts if {
	versions.parts("1.12.3") == [1, 12, 3]
}

test_parts_of_a_short_version_are_undefined if {
	not versions.parts("1.12")
}

test_preview if {
	versions.is_preview("1.0.0-Preview")
	not versions.is_preview("1.0.0")
}

todo_test_prerelease_ordering if {
	versions.older("1.0.0-alpha", "1.0.0")
}

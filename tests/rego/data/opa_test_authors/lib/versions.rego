# METADATA
# title: Version helpers shared by the fleet policies
package authors.lib.versions

# "1.12.3" -> [1, 12, 3]; a part that is not a number makes the whole version undefined
parts(version) := numbers if {
	numbers := [to_number(part) | some part in split(version, "."); regex.match(`^[0-9]+$`, part)]
	count(numbers) == 3
}

older(a, b) if {
	[major_a, minor_a, _] := parts(a)
	[major_b, minor_b, _] := parts(b)
	major_a < major_b
} else if {
	[major_a, minor_a, _] := parts(a)
	[major_b, minor_b, _] := parts(b)
	major_a == major_b
	minor_a < minor_b
}

is_preview(version) if contains(lower(version), "preview")

# METADATA
# title: Tag values have no stray whitespace
# custom:
#   effect: audit
package corpus.tag_values_trimmed

violation contains {"msg": sprintf("tag %s=%q has surrounding spaces", [key, value])} if {
	some key, value in object.get(input.resource, "tags", {})
	is_string(value)
	trim_space(value) != value
}

violation contains {"msg": sprintf("tag %s repeats %s", [key, replace(value, " ", "_")])} if {
	some key, value in object.get(input.resource, "tags", {})
	is_string(value)
	count(split(value, ",")) != count({v | some v in split(value, ",")})
}

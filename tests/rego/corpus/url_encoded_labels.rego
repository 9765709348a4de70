# METADATA
# title: Labels survive URL encoding
# custom:
#   effect: audit
package corpus.url_encoded_labels

violation contains {"msg": sprintf("tag %s encodes to %s", [key, encoded])} if {
	some key, value in object.get(input.resource, "tags", {})
	is_string(value)
	encoded := urlquery.encode(value)
	encoded != value
}

violation contains {"msg": sprintf("tag %s is base64 %s", [key, base64.encode(key)])} if {
	some key, _ in object.get(input.resource, "tags", {})
	count(key) > 40
}

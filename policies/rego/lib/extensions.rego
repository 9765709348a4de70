# Helpers shared by the shipped policies: extension lookups by type, case-insensitively as ARM compares.
#
# regopy evaluates a rule once per query but a function at every call, so a policy binds the
# result of of_type to a rule and hands that to the other helpers.
package arcpolicy.lib.extensions

# The cluster's extensions of one type, given in lower case (extension types compare case-insensitively).
of_type(extension_type) := [extension |
	some extension in input.extensions
	lower(extension.properties.extensionType) == extension_type
]

# A property of an extension, or the default when it is absent.
property(extension, name, default_value) := object.get(extension, ["properties", name], default_value)

# Whether the cluster is an Arc-enabled (connected) cluster rather than AKS.
is_connected_cluster if lower(input.resource.type) == "microsoft.kubernetes/connectedclusters"

# The name of the first of some extensions (by name), or the given default name when there are none.
# One definition with `else`, not two: regorus's VM only answers packages whose rules have one value each.
first_name(found, default_name) := sort([extension.name | some extension in found])[0] if count(found) > 0
else := default_name

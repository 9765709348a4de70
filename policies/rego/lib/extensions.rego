# Helpers shared by the shipped policies: extension lookups by type, case-insensitively as ARM compares.
package arcpolicy.lib.extensions

# The cluster's extensions of one type (extension types compare case-insensitively).
of_type(extension_type) := [extension |
	some extension in input.extensions
	lower(object.get(extension.properties, "extensionType", "")) == lower(extension_type)
]

# A property of an extension, or the default when it is absent.
property(extension, name, default_value) := object.get(extension, ["properties", name], default_value)

# Whether the cluster is an Arc-enabled (connected) cluster rather than AKS.
is_connected_cluster if lower(input.resource.type) == "microsoft.kubernetes/connectedclusters"

# The name of the first existing extension of a type, or the given default name.
name_for(extension_type, default_name) := sort([extension.name | some extension in of_type(extension_type)])[0]

name_for(extension_type, default_name) := default_name if count(of_type(extension_type)) == 0

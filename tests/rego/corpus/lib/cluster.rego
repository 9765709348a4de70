# METADATA
# title: Cluster helpers
package corpus.lib.cluster

default environment := "unknown"

environment := lower(input.resource.tags.environment) if is_string(input.resource.tags.environment)

is_arc if input.resource.type == "Microsoft.Kubernetes/connectedClusters"

is_production if environment in {"production", "prod"}

tag(name) := value if {
	some key, value in object.get(input.resource, "tags", {})
	lower(key) == lower(name)
}

subscription := parts[2] if {
	parts := split(input.resource.id, "/")
	count(parts) > 2
}

resource_group := lower(parts[4]) if {
	parts := split(input.resource.id, "/")
	count(parts) > 4
}

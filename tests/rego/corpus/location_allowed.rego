# METADATA
# title: Clusters are in allowed regions
# custom:
#   effect: audit
package corpus.location_allowed

default allowed := ["eastus", "westeurope", "southeastasia", "westus2"]

allowed := input.parameters.allowedLocations

violation contains {"msg": sprintf("location %s is not allowed", [input.resource.location])} if {
	not input.resource.location in allowed
}

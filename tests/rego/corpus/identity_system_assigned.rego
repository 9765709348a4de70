# METADATA
# title: Clusters use a system-assigned identity
# custom:
#   effect: audit
package corpus.identity_system_assigned

identity_type := object.get(object.get(input.resource, "identity", {}), "type", "None")

violation contains {"msg": concat(" ", ["identity type", identity_type])} if {
	identity_type != "SystemAssigned"
}

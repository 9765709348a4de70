# METADATA
# title: Identities belong to the home tenant
# custom:
#   effect: audit
package corpus.tenant_pinned

home := "2257989f-ef82-4c88-b6ce-d90a71d2af72"

violation contains {"msg": "identity of another tenant"} if {
	tenant := input.resource.identity.tenantId
	tenant != home
}

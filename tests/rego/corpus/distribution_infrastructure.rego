# METADATA
# title: Distributions run on their supported infrastructure
# custom:
#   effect: audit
package corpus.distribution_infrastructure

supported := {
	"aks_edge_essentials": {"windows_server", "azure_stack_hci"},
	"openshift": {"vsphere", "baremetal", "aws", "azure"},
	"k3s": {"baremetal", "vsphere", "generic"},
}

violation contains {"msg": sprintf("%s on %s", [distribution, infrastructure])} if {
	distribution := lower(input.resource.properties.distribution)
	infrastructure := lower(input.resource.properties.infrastructure)
	allowed := supported[distribution]
	not infrastructure in allowed
}

# METADATA
# title: Private link clusters sit in approved networks
# custom:
#   effect: audit
package corpus.private_link_network

networks := ["10.0.0.0/8", "172.16.0.0/12"]

address := object.get(input.resource.properties, "privateIp", "10.1.2.3")

violation contains {"msg": sprintf("%s is outside the approved networks", [address])} if {
	input.resource.properties.privateLinkState == "Enabled"
	not approved
}

approved if {
	some network in networks
	net.cidr_contains(network, address)
}

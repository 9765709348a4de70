# METADATA
# title: Arc agents are within two minor versions
# custom:
#   effect: audit
package corpus.agent_version_current

latest := [1, 20]

parts := [to_number(part) | some part in split(input.resource.properties.agentVersion, ".")]

violation contains {"msg": sprintf("agent %s is %d minor versions behind", [input.resource.properties.agentVersion, behind])} if {
	count(parts) == 3
	parts[0] == latest[0]
	behind := latest[1] - parts[1]
	behind > 2
}

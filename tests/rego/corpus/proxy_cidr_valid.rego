# METADATA
# title: No-proxy ranges are valid CIDRs
# custom:
#   effect: audit
package corpus.proxy_cidr_valid

ranges := split(object.get(input.resource.properties, "noProxy", "10.0.0.0/16,192.168.0.0/24"), ",")

violation contains {"msg": sprintf("%s is not a CIDR", [cidr])} if {
	some cidr in ranges
	not net.cidr_is_valid(trim_space(cidr))
}

violation contains {"msg": "no-proxy ranges overlap"} if {
	some i, a in ranges
	some j, b in ranges
	i < j
	net.cidr_intersects(trim_space(a), trim_space(b))
}

# METADATA
# title: Site tag matches the cluster name
# custom:
#   effect: audit
package corpus.site_tag_matches_name

import data.corpus.lib.cluster

site := cluster.tag("site")

violation contains {"msg": sprintf("site %s is not part of %s", [site, input.resource.name])} if {
	is_string(site)
	name := input.resource.name
	suffix := trim_prefix(site, "site-")
	not contains(name, suffix)
}

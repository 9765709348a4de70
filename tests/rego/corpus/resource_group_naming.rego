# METADATA
# title: Resource groups follow rg-<unit>-<region>-NN
# custom:
#   effect: audit
package corpus.resource_group_naming

import data.corpus.lib.cluster

violation contains {"msg": sprintf("resource group %s does not follow the naming", [cluster.resource_group])} if {
	group := cluster.resource_group
	not glob.match("rg-*-*-[0-9][0-9]", ["-"], group)
}

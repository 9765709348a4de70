# METADATA
# title: Release namespaces are lower case
# custom:
#   effect: audit
package corpus.namespace_naming

violation contains {"msg": sprintf("%s installs into %s", [extension.name, namespace])} if {
	some extension in input.extensions
	namespace := extension.properties.scope.cluster.releaseNamespace
	namespace != lower(namespace)
}

violation contains {"msg": sprintf("%s installs into %s", [extension.name, namespace])} if {
	some extension in input.extensions
	namespace := extension.properties.scope.namespace.targetNamespace
	startswith(namespace, "kube-")
}

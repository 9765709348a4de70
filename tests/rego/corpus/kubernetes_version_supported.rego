# METADATA
# title: Kubernetes version is supported
# custom:
#   effect: audit
package corpus.kubernetes_version_supported

minimum := "1.28.0"

version := trim_prefix(input.resource.properties.kubernetesVersion, "v")

violation contains {"msg": sprintf("Kubernetes %s is older than %s", [version, minimum])} if {
	semver.is_valid(version)
	semver.compare(version, minimum) < 0
}

violation contains {"msg": sprintf("Kubernetes version %v is not semver", [input.resource.properties.kubernetesVersion])} if {
	is_string(version)
	not semver.is_valid(version)
}

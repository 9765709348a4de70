# METADATA
# title: Pinned versions are exact semver
# custom:
#   effect: audit
package corpus.pinned_version_format

import data.corpus.lib.extensions

violation contains {"msg": sprintf("%s is pinned to %s", [extension.name, extension.properties.version])} if {
	some extension in input.extensions
	extensions.pinned(extension)
	version := extension.properties.version
	not semver.is_valid(version)
}

violation contains {"msg": sprintf("%s pins a prerelease", [extension.name])} if {
	some extension in input.extensions
	extensions.pinned(extension)
	version := extension.properties.version
	semver.is_valid(version)
	indexof(version, "-") >= 0
}

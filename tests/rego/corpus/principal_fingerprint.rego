# METADATA
# title: Principal ids are recorded by fingerprint
# custom:
#   effect: audit
package corpus.principal_fingerprint

fingerprints := {extension.name: substring(crypto.sha256(extension.identity.principalId), 0, 12) |
	some extension in input.extensions
	extension.identity.principalId
}

violation contains {"msg": sprintf("%s and %s share a principal", [a, b])} if {
	some a, fa in fingerprints
	some b, fb in fingerprints
	a < b
	fa == fb
}

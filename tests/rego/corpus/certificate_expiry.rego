# METADATA
# title: Managed identity certificate is valid for 30 more days
# custom:
#   effect: audit
package corpus.certificate_expiry

expires := time.parse_rfc3339_ns(input.resource.properties.managedIdentityCertificateExpirationTime)

limit := time.add_date(time.parse_rfc3339_ns("2026-12-01T00:00:00Z"), 0, 0, 30)

violation contains {"msg": sprintf("certificate expires %d-%02d-%02d", time.date(expires))} if {
	expires < limit
}

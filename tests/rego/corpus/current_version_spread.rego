# METADATA
# title: Flux versions across the cluster agree
# custom:
#   effect: audit
package corpus.current_version_spread

versions := {v | some e in input.extensions; v := e.properties.currentVersion; is_string(v)}

majors := {m | some v in versions; m := split(v, ".")[0]}

violation contains {"msg": sprintf("major versions %s", [concat("/", sort(majors))])} if count(majors) > 1

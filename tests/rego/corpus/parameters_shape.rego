# METADATA
# title: Assignment parameters are well formed
# custom:
#   effect: audit
package corpus.parameters_shape

violation contains {"msg": sprintf("parameter %s is %s", [name, type_name(value)])} if {
	some name, value in input.parameters
	not is_string(value)
	not is_array(value)
	not is_object(value)
}

violation contains {"msg": sprintf("%d parameters", [count(input.parameters)])} if {
	count(input.parameters) > 20
}

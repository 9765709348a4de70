"""The shared expression language: parsing, compiling once, and the common functions.

Expected values follow the examples of the ARM template function reference.
"""

import pytest

from engine.expressions import (
    COMMON_FUNCTIONS,
    Call,
    EvaluationError,
    ExpressionSyntaxError,
    Index,
    Literal,
    Member,
    compile_expression,
    compile_value,
    is_expression,
    parse,
)
from engine.expressions.compiler import constant_value

REGISTRY = COMMON_FUNCTIONS.extend()


@REGISTRY.function("parameters", 1, 1, uses_context=True)
def _parameters(context, name):
    return context[name]


def evaluate(text, context=None):
    return compile_expression(text, REGISTRY)(context or {})


def test_parse_builds_calls_members_and_indexes():
    node = parse("split(parameters('id'), '/')[8].name")
    assert isinstance(node, Member) and node.name == "name"
    assert isinstance(node.target, Index) and node.target.index == Literal(8)
    call = node.target.target
    assert isinstance(call, Call) and call.name == "split"
    assert call.arguments[1] == Literal("/")


def test_string_escapes_and_numbers():
    assert parse("concat('it''s', -2)").arguments == (Literal("it's"), Literal(-2))


@pytest.mark.parametrize("bad", ["concat('a'", "concat('a' 'b')", "concat(,)", "'just a string'", "concat('a'))",
                                 "concat('unterminated)"])
def test_syntax_errors_name_the_position(bad):
    with pytest.raises(ExpressionSyntaxError) as raised:
        parse(bad)
    assert "position" in str(raised.value)


def test_unknown_functions_and_arity_fail_at_compile_time():
    with pytest.raises(ExpressionSyntaxError, match="unknown function 'nope'"):
        compile_expression("[nope()]", REGISTRY)
    with pytest.raises(ExpressionSyntaxError, match="takes 3 arguments, got 2"):
        compile_expression("[if(true(), 1)]", REGISTRY)


def test_is_expression_and_escapes():
    assert is_expression("[concat('a')]")
    assert not is_expression("[[not an expression]")
    assert not is_expression("plain")
    assert compile_value("[[literal]", REGISTRY)({}) == "[literal]"


def test_builtin_scope_expression_from_the_policy_extension_dine():
    cluster_id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/store-1"
    value = evaluate("[concat('Microsoft.Kubernetes/connectedClusters/', split(parameters('clusterResourceId'),'/')[8])]",
                     {"clusterResourceId": cluster_id})
    assert value == "Microsoft.Kubernetes/connectedClusters/store-1"


def test_constant_subexpressions_are_folded_once():
    compiled = compile_expression("[concat(toLower('ABC'), string(add(1, 2)))]", REGISTRY)
    assert constant_value(compiled) == (True, "abc3")
    # context-dependent expressions are not folded
    assert constant_value(compile_expression("[parameters('x')]", REGISTRY))[0] is False


def test_if_evaluates_only_the_chosen_branch():
    assert evaluate("[if(equals(parameters('n'), 1), 'one', json('not json'))]", {"n": 1}) == "one"
    with pytest.raises(EvaluationError):
        evaluate("[if(equals(parameters('n'), 1), 'one', json('not json'))]", {"n": 2})


def test_and_or_short_circuit():
    assert evaluate("[or(true(), json('{'))]") is True
    assert evaluate("[and(false(), json('{'))]") is False


@pytest.mark.parametrize(("text", "expected"), [
    ("[concat('prefix', '-', 'suffix')]", "prefix-suffix"),
    ("[concat(createArray('1-1', '1-2'), createArray('2-1'))]", ["1-1", "1-2", "2-1"]),
    ("[format('{0}, {1}. Formatted number: {2:N0}', 'Hello', 'User', 8175133)]",
     "Hello, User. Formatted number: 8,175,133"),
    ("[split('one,two,three', ',')]", ["one", "two", "three"]),
    ("[split('one;two,three', createArray(',', ';'))]", ["one", "two", "three"]),
    ("[replace('123-123-1234', '-', '')]", "1231231234"),
    ("[substring('one two three', 4, 3)]", "two"),
    ("[toLower('One Two')]", "one two"),
    ("[toUpper('One Two')]", "ONE TWO"),
    ("[trim('    one two three   ')]", "one two three"),
    ("[startsWith('abcdef', 'AB')]", True),
    ("[endsWith('abcdef', 'EF')]", True),
    ("[indexOf('test', 'E')]", 1),
    ("[lastIndexOf('abcabc', 'c')]", 5),
    ("[padLeft('123', 10, '0')]", "0000000123"),
    ("[contains('OneTwoThree', 'e')]", True),
    ("[contains('OneTwoThree', 'z')]", False),
    ("[contains(createObject('one', 'a'), 'ONE')]", True),
    ("[contains(createArray('one', 'two'), 'three')]", False),
    ("[empty('')]", True),
    ("[empty(createArray())]", True),
    ("[empty(createObject('a', 1))]", False),
    ("[length(createArray('a', 'b', 'c'))]", 3),
    ("[length('One Two Three')]", 13),
    ("[first(createArray('one', 'two'))]", "one"),
    ("[last('One Two Three')]", "e"),
    ("[skip(createArray('one', 'two', 'three'), 2)]", ["three"]),
    ("[take('One Two Three', 2)]", "On"),
    ("[union(createObject('a', 'b', 'c', 'd'), createObject('c', 'x'))]", {"a": "b", "c": "x"}),
    ("[union(createArray('one', 'two'), createArray('two', 'three'))]", ["one", "two", "three"]),
    ("[intersection(createArray('one', 'two'), createArray('two', 'three'))]", ["two"]),
    ("[coalesce(null(), null(), 'default')]", "default"),
    ("[string(createObject('a', 1))]", '{"a":1}'),
    ("[string(true())]", "true"),
    ("[int('4')]", 4),
    ("[bool('true')]", True),
    ("[bool(0)]", False),
    ("[json('{\"a\": [1]}').a[0]]", 1),
    ("[createObject('intProp', 1, 'stringProp', 'abc').stringProp]", "abc"),
    ("[not(equals('a', 'a'))]", False),
    ("[less(1, 2)]", True),
    ("[greaterOrEquals('b', 'a')]", True),
    ("[add(3, 4)]", 7),
    ("[sub(7, 3)]", 4),
    ("[mul(5, 3)]", 15),
    ("[div(8, 3)]", 2),
    ("[mod(7, 3)]", 1),
    ("[range(1, 3)]", [1, 2, 3]),
    ("[min(createArray(0, 3, 2))]", 0),
    ("[max(0, 3, 2)]", 3),
    ("[base64ToString(base64('one, two'))]", "one, two"),
    ("[array('x')]", ["x"]),
    # as Azure Policy's engine reads them (Microsoft's port of it, regorus: fn_string_from_bool,
    # fn_bool_from_1_string, fn_int_from_float_string): bare literals, '1' and '0', truncation
    ("[string(true)]", "true"),
    ("[if(false, 1, null)]", None),
    ("[bool('1')]", True),
    ("[bool('0')]", False),
    ("[int('3.7')]", 3),
    ("[int('-3.7')]", -3),
])
def test_common_functions(text, expected):
    assert evaluate(text) == expected


def test_unique_string_and_guid_are_deterministic_and_distinct():
    first, again, other = evaluate("[uniqueString('a', 'b')]"), evaluate("[uniqueString('a', 'b')]"), evaluate(
        "[uniqueString('a', 'c')]")
    assert first == again != other and len(first) == 13 and first.isalnum()
    assert evaluate("[guid('x')]") == evaluate("[guid('x')]") != evaluate("[guid('y')]")


def test_member_access_is_case_insensitive_and_errors_are_clear():
    assert evaluate("[parameters('o').NAME]", {"o": {"name": "x"}}) == "x"
    with pytest.raises(EvaluationError, match="property 'missing' does not exist"):
        evaluate("[parameters('o').missing]", {"o": {"name": "x"}})
    with pytest.raises(EvaluationError, match="out of range"):
        evaluate("[split('a/b', '/')[5]]")


def test_compile_value_walks_objects_and_arrays():
    compiled = compile_value({"name": "[parameters('n')]", "tags": ["[concat('a', parameters('n'))]", 1]}, REGISTRY)
    assert compiled({"n": "x"}) == {"name": "x", "tags": ["ax", 1]}
    assert constant_value(compile_value({"a": ["b", 1]}, REGISTRY)) == (True, {"a": ["b", 1]})


def test_child_registries_do_not_leak_into_the_parent():
    assert REGISTRY.lookup("parameters") is not None
    assert COMMON_FUNCTIONS.lookup("parameters") is None
    assert "concat" in REGISTRY.names()

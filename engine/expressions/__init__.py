"""The ``[function(...)]`` expression language shared by Azure Policy and ARM templates.

parse -> compile -> evaluate, each its own module: :mod:`.parser` turns text into an AST,
:mod:`.compiler` turns the AST into a Python closure once, and functions are small units
registered in a :class:`~.registry.FunctionRegistry` (policy and template stages each extend
the common registry with their own context functions such as ``field`` or ``resourceId``).
"""

from engine.expressions import functions as _functions  # noqa: F401  (registers common functions)
from engine.expressions.compiler import CompiledExpression, compile_expression, compile_value, is_expression
from engine.expressions.parser import Call, ExpressionSyntaxError, Index, Literal, Member, Node, parse
from engine.expressions.registry import (
    COMMON_FUNCTIONS,
    EvaluationError,
    FunctionRegistry,
    FunctionSpec,
    Interceptor,
)

__all__ = [
    "COMMON_FUNCTIONS",
    "Call",
    "CompiledExpression",
    "EvaluationError",
    "ExpressionSyntaxError",
    "FunctionRegistry",
    "FunctionSpec",
    "Index",
    "Interceptor",
    "Literal",
    "Member",
    "Node",
    "compile_expression",
    "compile_value",
    "is_expression",
    "parse",
]

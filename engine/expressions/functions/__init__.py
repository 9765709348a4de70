"""The functions of the expression language, one module per family.

Each module registers its family's functions, each one small unit with the kinds of its arguments
declared. Families follow the pages of the ARM template function reference
(templates/template-functions-*): logical, comparison, strings, encoding (base64 and URIs), arrays (the
array page, and the functions it shares with the string and object pages), objects, numeric, cidr and
dates are common to policy rules and templates (:data:`~engine.expressions.registry.COMMON_FUNCTIONS`);
lambdas are template-only (:data:`~engine.expressions.registry.TEMPLATE_LANGUAGE_FUNCTIONS`);
policy holds the Azure Policy functions templates lack and refuses those policy rules exclude
(:data:`~engine.expressions.registry.POLICY_RULE_FUNCTIONS`); bicep_only refuses Bicep's own. Context
functions (``parameters``, ``field``, ``resourceGroup`` ...) are registered by the stages that own the context.
"""

from engine.expressions.functions import (  # noqa: F401  (each import registers a family)
    arrays,
    bicep_only,
    cidr,
    comparison,
    dates,
    encoding,
    lambdas,
    logical,
    numeric,
    objects,
    policy,
    strings,
)

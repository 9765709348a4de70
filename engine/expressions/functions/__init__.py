"""Functions common to Azure Policy rules and ARM templates, one module per family.

Each module registers its family's functions on :data:`~engine.expressions.registry.COMMON_FUNCTIONS`,
each function one small unit with the kinds of its arguments declared. Families follow the pages
of the ARM template function reference (templates/template-functions-*): logical, comparison,
strings, arrays (the array page, and the functions it shares with the string and object pages),
objects, numeric, dates; and policy (the Azure Policy functions templates lack, on a registry of their
own). Context functions (``parameters``, ``field``, ``resourceGroup`` ...) are
registered by the stages that own the context.
"""

from engine.expressions.functions import (  # noqa: F401  (each import registers a family)
    arrays,
    comparison,
    dates,
    logical,
    numeric,
    objects,
    policy,
    strings,
)

"""Azure Policy JSON: load -> compile -> evaluate, with Azure Policy's documented semantics.

:mod:`.documents` loads definitions, initiatives, assignments and exemptions; :mod:`.aliases`
and :mod:`.fields` resolve fields; :mod:`.conditions`, :mod:`.functions` and :mod:`.effects` are
registries of small units; :mod:`.compiler` and :mod:`.policy` compile a rule once into an
evaluator; :mod:`.library` binds assignments to definitions; :mod:`.kind` joins the scan.
"""

from engine.azure_policy.documents import (
    PolicyAssignment,
    PolicyDefinition,
    PolicyDocuments,
    PolicyExemption,
    PolicySetDefinition,
    load_documents,
)
from engine.azure_policy.library import AzurePolicyLibrary, CompiledAssignment
from engine.azure_policy.policy import CompiledPolicy, compile_policy

__all__ = ["AzurePolicyLibrary", "CompiledAssignment", "CompiledPolicy", "PolicyAssignment", "PolicyDefinition",
           "PolicyDocuments", "PolicyExemption", "PolicySetDefinition", "compile_policy", "load_documents"]

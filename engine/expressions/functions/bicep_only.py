"""Functions of Bicep that ARM templates do not have: Bicep resolves them when it compiles a file to an
ARM template (``loadJsonContent`` reads a file on the author's machine, ``any`` only quiets its type
checker), so a template or policy rule naming one is refused with that reason, not "unknown"."""

from __future__ import annotations

from engine.expressions.registry import COMMON_FUNCTIONS

BICEP_ONLY = ("any", "loadFileAsBase64", "loadJsonContent", "loadTextContent", "loadYamlContent",
              "readEnvironmentVariable", "getSecret", "externalInput")
for _name in BICEP_ONLY:
    COMMON_FUNCTIONS.refuse(_name, "it is a Bicep function, resolved when Bicep compiles a file; ARM templates and "
                                   "policy rules have no such function")

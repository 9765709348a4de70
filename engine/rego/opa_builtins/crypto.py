"""OPA's ``crypto.*`` digests and HMACs (regorus 0.13's build has none): hex digests of the string's UTF-8 bytes."""

from __future__ import annotations

import hashlib
import hmac

from engine.rego.opa_builtins import builtin, operand

for _name in ("md5", "sha1", "sha256"):
    def _digest(text: object, _name: str = _name) -> str:
        return hashlib.new(_name, operand(f"crypto.{_name}", 1, text, str).encode()).hexdigest()

    builtin(f"crypto.{_name}", 1)(_digest)

for _name in ("md5", "sha1", "sha256", "sha512"):
    def _hmac(message: object, key: object, _name: str = _name) -> str:
        called = f"crypto.hmac.{_name}"
        return hmac.new(operand(called, 2, key, str).encode(), operand(called, 1, message, str).encode(),
                        _name).hexdigest()

    builtin(f"crypto.hmac.{_name}", 2)(_hmac)


@builtin("crypto.hmac.equal", 2)
def hmac_equal(first: object, second: object) -> bool:
    """Constant-time comparison of two MACs (as strings)."""
    return hmac.compare_digest(operand("crypto.hmac.equal", 1, first, str).encode(),
                               operand("crypto.hmac.equal", 2, second, str).encode())

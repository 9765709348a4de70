"""Hypothesis against the real OPA: the built-ins arcpolicy provides in Python (net.cidr_merge,
net.cidr_contains_matches, net.cidr_intersects, strings.split_n, io.jwt.decode, io.jwt.verify_hs256,
regex.globs_match, crypto.x509.parse_certificates and parse_and_verify_certificates) on
generated operands, through the default path (regorus with arcpolicy's replacements), answer as OPA does:
OPA's value, or an error or undefined where OPA stops on the built-in's error.

Operands come from the input (JSON) and, for the CIDR functions, also as a Rego set built from it. Numbers stay
within 64 bits and sets hold no arrays or objects: regorus cannot hand those to a Python extension (docs/rego.md,
"Where regorus differs from OPA"). A fixed, derandomized budget runs in the default suite;
``ARCPOLICY_FUZZ_EXAMPLES`` raises it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rego.opa_oracle import UNDEFINED, OpaError
from test_opa_builtins import _ours, _same, loaded_beside_opa

EXAMPLES = int(os.environ.get("ARCPOLICY_FUZZ_EXAMPLES", "150"))

POLICY = """package fuzzed

merged := net.cidr_merge(input.a)
merged_set := net.cidr_merge({x | some x in input.a})
matches := net.cidr_contains_matches(input.a, input.b)
matches_set := net.cidr_contains_matches({x | some x in input.a}, input.b)
intersects := net.cidr_intersects(input.a, input.b)
split := strings.split_n(input.a, input.b, input.c)
decoded := io.jwt.decode(input.a)
verified := io.jwt.verify_hs256(input.a, input.b)
globs := regex.globs_match(input.a, input.b)
certificates := [[c.Subject, c.Issuer, c.NotAfter, c.DNSNames, c.IsCA, c.KeyUsage, c.Extensions, c.Raw] |
	some c in crypto.x509.parse_certificates(input.a)
]
chain := [[valid, [c.Subject.CommonName | some c in chain]] |
	[valid, chain] := crypto.x509.parse_and_verify_certificates(input.a)
]
"""

# ---- operands ----------------------------------------------------------------------------------------------------
OCTET = st.integers(min_value=0, max_value=255)
IPV4 = st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", OCTET, st.sampled_from([0, 1, 10, 128, 255]), OCTET, OCTET)
HEXTET = st.sampled_from(["0", "1", "db8", "2001", "ffff", "fe80", "8000", ""])
IPV6 = st.one_of(st.builds(lambda parts: ":".join(parts), st.lists(HEXTET, min_size=3, max_size=8)).filter(
    lambda text: text.count("::") <= 1), st.sampled_from(["::", "::1", "::ffff:10.0.0.1", "2001:db8::", "fe80::1%eth0"]))
ADDRESS = st.one_of(IPV4, IPV6)
CIDR = st.one_of(st.builds(lambda address, prefix: f"{address}/{prefix}", IPV4, st.integers(min_value=0, max_value=33)),
                 st.builds(lambda address, prefix: f"{address}/{prefix}", IPV6, st.integers(min_value=0, max_value=129)),
                 st.sampled_from(["10.0.0.0/08", "10.0.0.0/", "10.0.0.0/255.0.0.0", "bad", "", "1.2.3.4/ 8"]))
CIDR_OR_ADDRESS = st.one_of(CIDR, ADDRESS)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(max_size=6))
CIDR_LISTS = st.lists(st.one_of(CIDR_OR_ADDRESS, CIDR_OR_ADDRESS, st.lists(st.one_of(CIDR_OR_ADDRESS, SCALARS),
                                                                             max_size=2), SCALARS), max_size=5)
FLAT_CIDR_LISTS = st.lists(st.one_of(CIDR_OR_ADDRESS, SCALARS), max_size=5)  # what a set may hold here
CIDR_OPERANDS = st.one_of(CIDR_OR_ADDRESS, CIDR_LISTS, st.dictionaries(st.text(max_size=3), CIDR_OR_ADDRESS,
                                                                       max_size=3), SCALARS)


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                           max_leaves=6)
HEADERS = st.one_of(st.fixed_dictionaries({"alg": st.sampled_from(["HS256", "none", "RS256"])},
                                          optional={"typ": st.just("JWT"), "cty": st.sampled_from(["jwt", "x", 1]),
                                                    "kid": st.text(max_size=4)}), JSON_VALUES)
PART_EDITS = st.sampled_from(["", "=", "==", "!", "\n", "+", "/", "."])


def _token(header: Any, claims: Any, secret: str, edit: str, where: int) -> str:
    """A JWS compact token signed with HS256 under ``secret``, then perhaps one character edited in."""
    signing = f"{_base64url(json.dumps(header).encode())}.{_base64url(json.dumps(claims).encode())}"
    token = f"{signing}.{_base64url(hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest())}"
    at = where % (len(token) + 1)
    return token[:at] + edit + token[at:]


SECRETS = st.sampled_from(["secret", "", "k€y"])
TOKENS = st.builds(_token, HEADERS, JSON_VALUES, SECRETS, PART_EDITS, st.integers(min_value=0, max_value=500))
SEPARATORS = st.sampled_from(["", ",", ", ", "a", "é", ",,"])
SPLIT_TEXTS = st.text(alphabet="a,bé ", max_size=10)
LIMITS = st.one_of(st.integers(min_value=-5, max_value=12), st.sampled_from([2**63 - 1, -(2**63), 1.5, 2.0, "2", None]))

GLOB_ATOMS = st.sampled_from(["a", "b", ".", "[ab]", "[a-c]", "[b-d]", "[]", "\\*", "\\.", "x", "-", "[a\\]]"])
GLOBS = st.one_of(st.builds("".join, st.lists(st.builds(lambda atom, flag: atom + flag, GLOB_ATOMS,
                                                        st.sampled_from(["", "", "*", "+"])), max_size=5)),
                  st.text(alphabet="ab.[]-*+\\", max_size=6))


def _certificate_texts() -> list[str]:
    """A root, an intermediate and a leaf (EC P-256, fixed keys and times) as PEM."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    keys = [ec.derive_private_key(secret, ec.SECP256R1()) for secret in (11, 12, 13)]
    names = ["root", "inter", "leaf.example"]
    texts = []
    for index, key in enumerate(keys):
        issuer = max(index - 1, 0)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, names[index])]))
                   .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, names[issuer])]))
                   .public_key(key.public_key()).serial_number(index + 1)
                   .not_valid_before(datetime.datetime(2024, 1, 1)).not_valid_after(datetime.datetime(2124, 1, 1))
                   .add_extension(x509.BasicConstraints(ca=index < 2, path_length=None), critical=True)
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(names[index])]), critical=False))
        texts.append(builder.sign(keys[issuer], hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())
    return texts


CERTIFICATES = _certificate_texts()
CERTIFICATE_TEXTS = st.builds(lambda chosen, edit, where: _edited("".join(chosen), edit, where),
                              st.lists(st.sampled_from(CERTIFICATES), min_size=1, max_size=3),
                              st.sampled_from(["", "", "", "A", "=", "-", "\n", "-----END CERTIFICATE-----\n"]),
                              st.integers(min_value=0, max_value=2000))


def _edited(text: str, edit: str, where: int) -> str:
    at = where % (len(text) + 1)
    return text[:at] + edit + text[at:]


CASES = {
    "merged": st.fixed_dictionaries({"a": st.one_of(CIDR_LISTS, SCALARS)}),
    "merged_set": st.fixed_dictionaries({"a": FLAT_CIDR_LISTS}),
    "matches": st.fixed_dictionaries({"a": CIDR_OPERANDS, "b": CIDR_OPERANDS}),
    "matches_set": st.fixed_dictionaries({"a": FLAT_CIDR_LISTS, "b": CIDR_OPERANDS}),
    "intersects": st.fixed_dictionaries({"a": st.one_of(CIDR, SCALARS), "b": st.one_of(CIDR, SCALARS)}),
    "split": st.fixed_dictionaries({"a": st.one_of(SPLIT_TEXTS, SCALARS), "b": st.one_of(SEPARATORS, SCALARS),
                                    "c": LIMITS}),
    "decoded": st.fixed_dictionaries({"a": st.one_of(TOKENS, st.text(alphabet="ab.=_-", max_size=8))}),
    "verified": st.fixed_dictionaries({"a": TOKENS, "b": st.one_of(SECRETS, SCALARS)}),
    "globs": st.fixed_dictionaries({"a": st.one_of(GLOBS, SCALARS), "b": st.one_of(GLOBS, SCALARS)}),
    "certificates": st.fixed_dictionaries({"a": st.one_of(CERTIFICATE_TEXTS, SCALARS)}),
    "chain": st.fixed_dictionaries({"a": st.one_of(CERTIFICATE_TEXTS, SCALARS)}),
}


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with loaded_beside_opa(tmp_path_factory.mktemp("fuzzed"), "fuzzed.rego", POLICY) as both:
        yield both


def _canonical(value: Any) -> Any:
    """A set's answer in a stable order (both sides give Rego sets as arrays, in their own order)."""
    if isinstance(value, list):
        return sorted((_canonical(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    return value


@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_python_builtin_answers_generated_operands_as_opa(engines: Any, rule: str) -> None:
    library, opa = engines
    differing: list[str] = []

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(CASES[rule])
    def compare(document: dict[str, Any]) -> None:
        expected = opa.documents(f"fuzzed.{rule}", [document])[0]
        ours = _ours(library, f"fuzzed/{rule}", document)
        crashed = isinstance(ours, OpaError) and "raises Python error" in ours.message and \
            "BuiltinError" not in ours.message  # the extension failed otherwise than by refusing its operands
        if isinstance(expected, OpaError):  # OPA refused (or its Go code panicked): so must arcpolicy
            if not crashed and (isinstance(ours, OpaError) or (expected.builtin and ours is UNDEFINED)):
                return
        elif not isinstance(ours, OpaError):
            unordered = rule.startswith(("merged", "matches"))
            if _same(_canonical(ours) if unordered else ours, _canonical(expected) if unordered else expected):
                return
        differing.append(f"{json.dumps(document)[:300]}: OPA {expected!r:.200}, arcpolicy {ours!r:.200}")

    compare()
    assert not differing, "\n".join(differing[:10])

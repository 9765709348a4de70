"""OPA's x509 built-ins as arcpolicy provides them (engine/rego/opa_builtins/certificates.py), judged by the real OPA.

Certificates, chains, requests and keys are generated here (EC, RSA, Ed25519; the extensions Go reads,
an unknown critical one, RSA-PSS), given as PEM, base64 of DER or PEM, and broken; each answer must be
the real OPA's whole document (Go's x509 structures as JSON), or an error where OPA errs. A policy
reading them through the default path gives OPA's values too, except numbers beyond 64 bits, which
regorus holds as float64 (docs/rego.md). Generated operands: tests/rego/test_builtins_fuzzed_against_opa.py.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
from pathlib import Path
from typing import Any

import opa_bindings
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from test_opa_builtins import _ours, loaded_beside_opa

from engine.rego.opa_builtins import BuiltinError
from engine.rego.opa_builtins.certificates import (
    parse_and_verify_certificates,
    parse_certificate_request,
    parse_certificates,
    parse_keypair,
    parse_rsa_private_key,
)

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.derive_private_key(7, ec.SECP384R1())
ED_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ROOT_KEY, INTERMEDIATE_KEY, LEAF_KEY, OTHER_KEY = (ec.derive_private_key(secret, ec.SECP256R1())
                                                   for secret in (21, 22, 23, 24))


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _certificate(key: Any, signer: Any, extensions: list[tuple[Any, bool]] = (), subject: x509.Name | None = None,
                 issuer: x509.Name | None = None, serial: int = 5, pss: bool = False,
                 not_before: datetime.datetime = datetime.datetime(2024, 1, 1, 12, 30, 5),
                 not_after: datetime.datetime = datetime.datetime(2124, 6, 1)) -> x509.Certificate:
    subject = subject if subject is not None else _name((NameOID.COMMON_NAME, "a"))
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
               .public_key(key.public_key()).serial_number(serial).not_valid_before(not_before)
               .not_valid_after(not_after))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    if isinstance(signer, ed25519.Ed25519PrivateKey):
        return builder.sign(signer, None)
    if pss:
        return builder.sign(signer, hashes.SHA512(), rsa_padding=padding.PSS(padding.MGF1(hashes.SHA512()),
                                                                             padding.PSS.DIGEST_LENGTH))
    return builder.sign(signer, hashes.SHA256())


def _pem(*certificates: x509.Certificate) -> str:
    return "".join(certificate.public_bytes(serialization.Encoding.PEM).decode() for certificate in certificates)


def _der64(*certificates: x509.Certificate) -> str:
    return base64.b64encode(b"".join(certificate.public_bytes(serialization.Encoding.DER)
                                     for certificate in certificates)).decode()


PLAIN = _certificate(EC_KEY, EC_KEY)
NAMED = _certificate(RSA_KEY, RSA_KEY, [
    (x509.BasicConstraints(ca=True, path_length=None), True),
    (x509.KeyUsage(False, False, True, False, True, False, False, True, False), True),
], _name((NameOID.COUNTRY_NAME, "DE"), (NameOID.ORGANIZATION_NAME, "X"), (NameOID.ORGANIZATION_NAME, "Y"),
         (NameOID.COMMON_NAME, "first"), (NameOID.COMMON_NAME, "second"), (NameOID.SERIAL_NUMBER, "42"),
         (NameOID.EMAIL_ADDRESS, "a@b.c")), serial=2**90 + 7)
EXTENDED = _certificate(ED_KEY, ED_KEY, [
    (x509.SubjectAlternativeName([x509.RFC822Name("x@y.z"), x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
                                  x509.DNSName("*.w.example"), x509.UniformResourceIdentifier("https://u.example/p?q#f")]),
     False),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, x509.ObjectIdentifier("1.2.3.4")]), False),
    (x509.SubjectKeyIdentifier(b"\x01\x02\x03"), False),
    (x509.AuthorityInformationAccess([
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://ocsp.x")),
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier("http://ca.x/c"))]),
     False),
    (x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier("http://crl.x/a.crl")], None,
                                                        None, None)]), False),
    (x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"), None)]), False),
    (x509.BasicConstraints(ca=False, path_length=None), False),
], _name((NameOID.ORGANIZATIONAL_UNIT_NAME, "ou"), (NameOID.LOCALITY_NAME, "l"),
         (NameOID.STATE_OR_PROVINCE_NAME, "p"), (NameOID.STREET_ADDRESS, "s"), (NameOID.POSTAL_CODE, "1")))
CONSTRAINED = _certificate(RSA_KEY, RSA_KEY, [
    (x509.NameConstraints(permitted_subtrees=[x509.DNSName("ok.example"), x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))],
                          excluded_subtrees=[x509.RFC822Name("bad.example")]), True),
    (x509.BasicConstraints(ca=True, path_length=0), True),
    (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.9"), b"\x05\x00"), True),
    (x509.AuthorityKeyIdentifier(b"\x09\x08", None, None), False),
], _name(), pss=True, not_before=datetime.datetime(2024, 1, 1, 0, 0, 0, 123000))
CROSS_SIGNED = _certificate(EC_KEY, RSA_KEY, [(x509.KeyUsage(True, True, False, False, False, True, True, False, False),
                                               False)], _name((NameOID.COMMON_NAME, "cross")))

PARSE_INPUTS = {
    "EC, no extensions": _pem(PLAIN), "RSA, names and key usage": _pem(NAMED), "Ed25519, extensions": _pem(EXTENDED),
    "name constraints, PSS, unknown critical": _pem(CONSTRAINED), "EC signed by RSA": _pem(CROSS_SIGNED),
    "two PEM blocks": _pem(PLAIN, NAMED), "base64 of DER": _der64(EXTENDED),
    "base64 of PEM": base64.b64encode(_pem(CONSTRAINED).encode()).decode(), "two DER": _der64(PLAIN, NAMED),
    "a broken block skipped": _pem(PLAIN).replace("M", "*", 1) + _pem(NAMED), "not base64": "not base64!",
    "a key block": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "empty": "", "bad DER": "AAAA",
}


def _chain_certificate(name: str, issuer: str, key: Any, signer: Any, ca: bool | None = None, path_length: int | None = None,
                       usages: list[x509.ObjectIdentifier] | None = None,
                       not_after: datetime.datetime = datetime.datetime(2124, 1, 1)) -> x509.Certificate:
    extensions: list[tuple[Any, bool]] = []
    if ca is not None:
        extensions.append((x509.BasicConstraints(ca=ca, path_length=path_length), True))
    if usages:
        extensions.append((x509.ExtendedKeyUsage(usages), False))
    return _certificate(key, signer, extensions, _name((NameOID.COMMON_NAME, name)), _name((NameOID.COMMON_NAME, issuer)),
                        serial=len(name), not_before=datetime.datetime(2024, 1, 1), not_after=not_after)


ROOT = _chain_certificate("root", "root", ROOT_KEY, ROOT_KEY, ca=True)
INTERMEDIATE = _chain_certificate("inter", "root", INTERMEDIATE_KEY, ROOT_KEY, ca=True)
LEAF = _chain_certificate("leaf", "inter", LEAF_KEY, INTERMEDIATE_KEY)
CHAINS = {
    "root, intermediate, leaf": _pem(ROOT, INTERMEDIATE, LEAF),
    "root and leaf": _pem(ROOT, _chain_certificate("leaf2", "root", LEAF_KEY, ROOT_KEY)),
    "wrong order": _pem(LEAF, INTERMEDIATE, ROOT), "intermediate missing": _pem(ROOT, LEAF), "one certificate": _pem(ROOT),
    "intermediate not a CA": _pem(ROOT, _chain_certificate("inter", "root", INTERMEDIATE_KEY, ROOT_KEY, ca=False), LEAF),
    "intermediate without basic constraints": _pem(ROOT, _chain_certificate("inter", "root", INTERMEDIATE_KEY, ROOT_KEY),
                                                   LEAF),
    "root not a CA": _pem(_chain_certificate("root", "root", ROOT_KEY, ROOT_KEY, ca=False), INTERMEDIATE, LEAF),
    "expired leaf": _pem(ROOT, INTERMEDIATE, _chain_certificate("leaf", "inter", LEAF_KEY, INTERMEDIATE_KEY,
                                                                not_after=datetime.datetime(2025, 1, 1))),
    "leaf for clients only": _pem(ROOT, INTERMEDIATE, _chain_certificate("leaf", "inter", LEAF_KEY, INTERMEDIATE_KEY,
                                                                         usages=[ExtendedKeyUsageOID.CLIENT_AUTH])),
    "leaf for servers": _pem(ROOT, INTERMEDIATE, _chain_certificate("leaf", "inter", LEAF_KEY, INTERMEDIATE_KEY,
                                                                    usages=[ExtendedKeyUsageOID.SERVER_AUTH])),
    "intermediate signed by another key": _pem(ROOT, _chain_certificate("inter", "root", INTERMEDIATE_KEY, OTHER_KEY,
                                                                        ca=True), LEAF),
    "root limits the path to 0": _pem(_chain_certificate("root", "root", ROOT_KEY, ROOT_KEY, ca=True, path_length=0),
                                      INTERMEDIATE, LEAF),
    "the root twice": _pem(ROOT, ROOT), "garbage": "nope",
}


def _request(key: Any, subject: x509.Name, extensions: list[Any], digest: Any) -> str:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(key, digest).public_bytes(serialization.Encoding.PEM).decode()


REQUESTS = {
    "EC with names": _request(LEAF_KEY, _name((NameOID.COMMON_NAME, "c")), [x509.SubjectAlternativeName(
        [x509.DNSName("a.b"), x509.IPAddress(ipaddress.ip_address("1.2.3.4"))])], hashes.SHA256()),
    "RSA, no extension": _request(RSA_KEY, _name((NameOID.COMMON_NAME, "d"), (NameOID.ORGANIZATION_NAME, "o")), [],
                                  hashes.SHA384()),
    "empty subject, URI and e-mail": _request(EC_KEY, _name(), [
        x509.SubjectAlternativeName([x509.UniformResourceIdentifier("spiffe://a/b"), x509.RFC822Name("m@n.o")]),
        x509.BasicConstraints(ca=False, path_length=None)], hashes.SHA512()),
}
REQUESTS["base64 of PEM"] = base64.b64encode(REQUESTS["EC with names"].encode()).decode()
REQUESTS["not base64"] = "zz"
REQUESTS["empty block"] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"


def _key(key: Any, form: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption()).decode()


KEY_PAIRS = {
    "EC, PKCS #8": (_pem(PLAIN), _key(EC_KEY)),
    "EC, SEC 1": (_pem(PLAIN), _key(EC_KEY, serialization.PrivateFormat.TraditionalOpenSSL)),
    "RSA, PKCS #1": (_pem(NAMED), _key(RSA_KEY, serialization.PrivateFormat.TraditionalOpenSSL)),
    "Ed25519": (_pem(EXTENDED), _key(ED_KEY)), "a chain": (_pem(PLAIN, NAMED), _key(EC_KEY)),
    "key of another certificate": (_pem(PLAIN), _key(RSA_KEY)),
    "base64 of PEM": (base64.b64encode(_pem(PLAIN).encode()).decode(), base64.b64encode(_key(EC_KEY).encode()).decode()),
    "base64 of DER": (_der64(PLAIN), _key(EC_KEY)), "no key": (_pem(PLAIN), _pem(PLAIN)), "garbage": ("x", "y"),
}
RSA_KEYS = {"PKCS #1": _key(RSA_KEY, serialization.PrivateFormat.TraditionalOpenSSL),
            "base64 of PKCS #1": base64.b64encode(_key(RSA_KEY, serialization.PrivateFormat.TraditionalOpenSSL).encode()
                                                  ).decode(),
            "an EC key": _key(EC_KEY, serialization.PrivateFormat.TraditionalOpenSSL), "an Ed25519 key": _key(ED_KEY),
            "RSA, PKCS #8": _key(RSA_KEY), "a certificate": _pem(PLAIN), "garbage": "-", "empty": "", "AAAA": "AAAA",
            "a broken key": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"}


def _opa(call: str, *operands: str) -> Any:
    """OPA's answer for ``call`` on the operands, or "error"."""
    engine = opa_bindings.OpaEngine()
    try:
        arguments = ", ".join(f"input[{index}]" for index in range(len(operands)))
        return engine.eval_query(f"x := {call}({arguments})", list(operands))[0]["x"]
    except opa_bindings.OpaError:
        return "error"
    finally:
        engine.close()


def _arcpolicy(function: Any, *operands: str) -> Any:
    try:
        return json.loads(json.dumps(function(*operands)))
    except BuiltinError:
        return "error"


@pytest.mark.parametrize(("call", "function", "cases"), [
    ("crypto.x509.parse_certificates", parse_certificates, PARSE_INPUTS),
    ("crypto.x509.parse_and_verify_certificates", parse_and_verify_certificates, CHAINS),
    ("crypto.x509.parse_certificate_request", parse_certificate_request, REQUESTS),
    ("crypto.x509.parse_rsa_private_key", parse_rsa_private_key, RSA_KEYS),
], ids=["parse_certificates", "parse_and_verify_certificates", "parse_certificate_request", "parse_rsa_private_key"])
def test_an_x509_builtin_gives_opas_whole_document(call: str, function: Any, cases: dict[str, str]) -> None:
    differing = {case: (expected, ours) for case, text in cases.items()
                 if (expected := _opa(call, text)) != (ours := _arcpolicy(function, text))}
    assert not differing, {case: (str(expected)[:300], str(ours)[:300]) for case, (expected, ours) in differing.items()}
    assert any(value != "error" for value in map(lambda text: _opa(call, text), cases.values()))


def test_parse_keypair_gives_opas_whole_document() -> None:
    differing = {case: (expected, ours) for case, operands in KEY_PAIRS.items()
                 if (expected := _opa("crypto.x509.parse_keypair", *operands))
                 != (ours := _arcpolicy(parse_keypair, *operands))}
    assert not differing, {case: (str(expected)[:300], str(ours)[:300]) for case, (expected, ours) in differing.items()}


POLICY = """package certs

certificates := [[c.Subject.CommonName, c.NotAfter, c.DNSNames, c.IsCA, c.KeyUsage, c.SerialNumber, c.Version] |
\tsome c in crypto.x509.parse_certificates(input.pem)
]

valid := crypto.x509.parse_and_verify_certificates(input.chain)[0]
"""


def test_a_policy_reads_certificates_on_the_default_path_as_on_opa(tmp_path: Path) -> None:
    with loaded_beside_opa(tmp_path, "certs.rego", POLICY) as (library, opa):
        for document in [{"pem": _pem(EXTENDED, CROSS_SIGNED), "chain": CHAINS["root, intermediate, leaf"]},
                         {"pem": _pem(PLAIN), "chain": CHAINS["expired leaf"]}]:
            for rule in ("certificates", "valid"):
                assert _ours(library, f"certs/{rule}", document) == opa.documents(f"certs.{rule}", [document])[0]

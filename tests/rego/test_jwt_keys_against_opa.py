"""The JWT verifiers that take a public key (``io.jwt.verify_rs*``, ``verify_ps*``, ``verify_es*``,
``verify_eddsa``: engine/rego/opa_builtins/token_keys.py) against the real OPA, on the default path.

Every verifier meets tokens signed with every algorithm (so right and wrong key types), under the key as a PEM
public key, a PEM certificate, a JWK, JWK sets (with ``alg`` and ``kid`` matching the header or not, an unknown
``alg`` skipped, a symmetric key), and broken ones (trailing data after the PEM block, a PEM private key, bad JSON,
a JWK without members), plus tampered tokens and headers OPA refuses. Each answer must be OPA's (a value), or an
error where OPA stops on the built-in's error.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.x509.oid import NameOID
from rego.opa_oracle import UNDEFINED, OpaError
from test_opa_builtins import _ours, _same, loaded_beside_opa

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
VERIFIERS = [f"{family}{bits}" for family in ("rs", "ps", "es") for bits in HASHES] + ["eddsa"]
POLICY = "package keys\n\n" + "".join(f"{name} := io.jwt.verify_{name}(input.token, input.key)\n" for name in VERIFIERS)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def number(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEYS = {"256": ec.generate_private_key(ec.SECP256R1()), "384": ec.generate_private_key(ec.SECP384R1()),
           "512": ec.generate_private_key(ec.SECP521R1())}
ED_KEY = ed25519.Ed25519PrivateKey.generate()
CURVE_NAMES = {"256": "P-256", "384": "P-384", "512": "P-521"}


def sign(alg: str, signing: bytes, key: Any = None) -> bytes:
    family, bits = alg[:2], alg[2:]
    if family == "RS":
        return (key or RSA_KEY).sign(signing, padding.PKCS1v15(), HASHES[bits]())
    if family == "PS":
        return (key or RSA_KEY).sign(signing, padding.PSS(padding.MGF1(HASHES[bits]()), HASHES[bits]().digest_size),
                                     HASHES[bits]())
    if family == "ES":
        signer = key or EC_KEYS[bits]
        size = (signer.curve.key_size + 7) // 8
        r, s = utils.decode_dss_signature(signer.sign(signing, ec.ECDSA(HASHES[bits]())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return ED_KEY.sign(signing)


def token(alg: str, header: dict[str, Any] | None = None, key: Any = None, tamper: bool = False) -> str:
    encoded = f"{b64(json.dumps(header or {'alg': alg, 'typ': 'JWT'}).encode())}.{PAYLOAD}"
    signature = bytearray(sign(alg, encoded.encode(), key))
    if tamper:
        signature[-1] ^= 1
    return f"{encoded}.{b64(bytes(signature))}"


def der_signed() -> str:
    encoded = f"{b64(json.dumps({'alg': 'ES256'}).encode())}.{PAYLOAD}"
    return f"{encoded}.{b64(EC_KEYS['256'].sign(encoded.encode(), ec.ECDSA(hashes.SHA256())))}"


def pem(public: Any) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def certificate(private: Any) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "arcpolicy test")])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    built = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
             .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1)))
    signed = built.sign(private, None if isinstance(private, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.PEM).decode()


def jwk(private: Any, **extra: str) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return {"kty": "RSA", "n": number(numbers.n), "e": number(numbers.e), **extra}
    if isinstance(public, ec.EllipticCurvePublicKey):
        numbers = public.public_numbers()
        size = (public.curve.key_size + 7) // 8
        curve = {256: "P-256", 384: "P-384", 521: "P-521"}[public.curve.key_size]
        return {"kty": "EC", "crv": curve, "x": b64(numbers.x.to_bytes(size, "big")),
                "y": b64(numbers.y.to_bytes(size, "big")), **extra}
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw), **extra}


PAYLOAD = b64(json.dumps({"sub": "x"}).encode())
ALGORITHMS = [f"{family}{bits}" for family in ("RS", "PS", "ES") for bits in HASHES] + ["EdDSA"]
PRIVATE = {"RS": RSA_KEY, "PS": RSA_KEY, "Ed": ED_KEY}


def private_for(alg: str) -> Any:
    return EC_KEYS[alg[2:]] if alg.startswith("ES") else PRIVATE[alg[:2]]


def key_forms(alg: str) -> list[str]:
    private = private_for(alg)
    return [pem(private.public_key()), certificate(private), json.dumps(jwk(private)),
            json.dumps({"keys": [jwk(OTHER_RSA, kid="other"), jwk(private, kid="mine", alg=alg)]})]


def cases() -> list[dict[str, Any]]:
    found = []
    for alg in ALGORITHMS:
        signed = token(alg)
        found += [{"token": signed, "key": key} for key in key_forms(alg)]
        found += [{"token": token(alg, tamper=True), "key": key_forms(alg)[0]}]
    rs = token("RS256", {"alg": "RS256", "kid": "mine"})
    found += [
        {"token": rs, "key": json.dumps({"keys": [jwk(OTHER_RSA, kid="mine"), jwk(RSA_KEY, kid="x")]})},  # kid decides
        {"token": rs, "key": json.dumps({"keys": [jwk(OTHER_RSA, kid="a"), jwk(RSA_KEY, kid="b")]})},  # any key
        {"token": rs, "key": json.dumps({"keys": [jwk(RSA_KEY, alg="PS256")]})},  # alg differs: skipped
        {"token": rs, "key": json.dumps({"keys": [jwk(RSA_KEY, alg="XX999")]})},  # not a JWA algorithm: an error
        {"token": rs, "key": json.dumps({"keys": [jwk(RSA_KEY, alg="RSA-OAEP"), jwk(RSA_KEY)]})},  # for encryption
        {"token": rs, "key": json.dumps({"keys": [jwk(RSA_KEY, kid=7)]})},
        {"token": rs, "key": json.dumps({"keys": []})},
        {"token": rs, "key": json.dumps({"kty": "oct", "k": b64(b"secret")})},
        {"token": rs, "key": pem(RSA_KEY.public_key()) + "trailing"},
        {"token": rs, "key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
        {"token": rs, "key": "not a key"},
        {"token": rs, "key": json.dumps({"kty": "RSA"})},
        {"token": rs, "key": json.dumps({"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA"})},
        {"token": rs.rsplit(".", 1)[0] + ".!!!", "key": pem(RSA_KEY.public_key())},
        {"token": token("RS256", {"alg": 5}), "key": pem(RSA_KEY.public_key())},
        {"token": token("RS256", {"alg": "RS256", "crit": []}), "key": pem(RSA_KEY.public_key())},
        {"token": token("RS256", {"alg": "RS256", "enc": "A128GCM"}), "key": pem(RSA_KEY.public_key())},
        {"token": token("RS256", {"typ": "JWT"}), "key": pem(RSA_KEY.public_key())},  # no alg: a PEM key still verifies
        {"token": token("RS256", key=OTHER_RSA), "key": pem(RSA_KEY.public_key())},
        {"token": "a.b", "key": pem(RSA_KEY.public_key())},
        {"token": der_signed(), "key": pem(EC_KEYS["256"].public_key())},  # ECDSA as DER, not r || s
        {"token": token("ES256", key=EC_KEYS["384"]), "key": pem(EC_KEYS["384"].public_key())},  # a longer curve
        {"token": token("ES256"), "key": json.dumps({"kty": "OKP", "crv": "Ed448", "x": b64(bytes(57))})},
        {"token": token("ES256"), "key": json.dumps({"kty": "EC", "crv": "P-256", "x": b64(bytes(32)),
                                                      "y": b64(bytes(32))})},  # not a point of the curve
        {"token": 5, "key": pem(RSA_KEY.public_key())},
        {"token": rs, "key": 5},
    ]
    return found


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with loaded_beside_opa(tmp_path_factory.mktemp("keys"), "keys.rego", POLICY) as both:
        yield both


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_a_key_verifier_answers_as_opa(engines: Any, verifier: str) -> None:
    library, opa = engines
    inputs = cases()
    verified = 0
    differing = []
    for document, expected in zip(inputs, opa.documents(f"keys.{verifier}", inputs), strict=True):
        ours = _ours(library, f"keys/{verifier}", document)
        if isinstance(expected, OpaError):
            agrees = isinstance(ours, OpaError) or (expected.builtin and ours is UNDEFINED)
        else:
            agrees = not isinstance(ours, OpaError) and _same(ours, expected)
            verified += expected is True
        if not agrees:
            differing.append(f"{json.dumps(document)[:60]} {str(document.get('key'))[-90:]}: OPA {expected!r:.160}, arcpolicy {ours!r:.160}")
    assert not differing, "\n".join(differing)
    assert verified >= 4  # the verifier's own algorithm under each key form (a test that only ever says false fails)

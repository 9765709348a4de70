"""The sandbox's own certificate authority and a server certificate for 127.0.0.1/localhost.

Clients trust ``ca.pem`` (``--ca-bundle``) exactly as they trust Azure's public CAs, so the SDK's
certificate verification stays on. Keys live in the state directory so a restart keeps the CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.atomic import PRIVATE_MODE, atomic_writer

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
VALIDITY = datetime.timedelta(days=825)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    with atomic_writer(path, binary=True, mode=PRIVATE_MODE) as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))


def _write_cert(path: Path, certificate: x509.Certificate) -> None:
    with atomic_writer(path, binary=True) as out:
        out.write(certificate.public_bytes(serialization.Encoding.PEM))


def _certificate(subject: str, issuer: x509.Name | None, public_key: ec.EllipticCurvePublicKey,
                 signing_key: ec.EllipticCurvePrivateKey, issuer_key: ec.EllipticCurvePublicKey,
                 is_ca: bool) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False))
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = (builder
                   .add_extension(x509.SubjectAlternativeName([
                       x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                       x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return builder.sign(signing_key, hashes.SHA256())


def ensure_certificates(state_dir: Path) -> Path:
    """Create the CA and server certificate in ``state_dir`` unless present; returns ca.pem's path."""
    ca_path, ca_key_path = state_dir / CA_FILE, state_dir / CA_KEY_FILE
    if not (ca_path.is_file() and ca_key_path.is_file() and (state_dir / SERVER_FILE).is_file()
            and (state_dir / SERVER_KEY_FILE).is_file()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("arcpolicy sandbox CA", None, ca_key.public_key(), ca_key, ca_key.public_key(), True)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _certificate("localhost", ca.subject, server_key.public_key(), ca_key, ca_key.public_key(), False)
        _write_key(ca_key_path, ca_key)
        _write_key(state_dir / SERVER_KEY_FILE, server_key)
        _write_cert(state_dir / SERVER_FILE, server)
        _write_cert(ca_path, ca)
    return ca_path


def server_context(state_dir: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(state_dir / SERVER_FILE, state_dir / SERVER_KEY_FILE)
    return context

"""OPA's ``crypto.x509.parse_certificates``, ``parse_certificate_request`` and ``parse_rsa_private_key``.

OPA answers these with Go's ``x509.Certificate`` (``x509.CertificateRequest``) marshalled to JSON: Go's
field names, byte strings as standard base64, absent lists as ``null``, times in RFC 3339, enums as Go's
numbers (``KeyUsage`` a bit mask, ``ExtKeyUsage``, ``PublicKeyAlgorithm`` and ``SignatureAlgorithm``
Go's constants), OIDs as lists of numbers. The input is PEM, or base64 of DER or of PEM, as OPA reads
it. regorus holds numbers beyond 64 bits as float64, so a large ``SerialNumber`` and a public key's
``N``, ``X`` and ``Y`` are not exact there (docs/rego.md).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from engine.rego.opa_builtins import BuiltinError, builtin, operand

# Go's crypto/x509 constants, as OPA's JSON shows them
_KEY_USAGE_BITS = [("digital_signature", 1), ("content_commitment", 2), ("key_encipherment", 4),
                   ("data_encipherment", 8), ("key_agreement", 16), ("key_cert_sign", 32), ("crl_sign", 64)]
_EXT_KEY_USAGES = {
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string: 0, ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: 1,
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: 2, ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: 3,
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: 4, "1.3.6.1.5.5.7.3.5": 5, "1.3.6.1.5.5.7.3.6": 6,
    "1.3.6.1.5.5.7.3.7": 7, ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: 8,
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: 9, "1.3.6.1.4.1.311.10.3.3": 10, "2.16.840.1.113730.4.1": 11,
    "1.3.6.1.4.1.311.2.1.22": 12, "1.3.6.1.4.1.311.61.1.1": 13,
}
_SIGNATURE_ALGORITHMS = {
    "1.2.840.113549.1.1.2": 1, "1.2.840.113549.1.1.4": 2, "1.2.840.113549.1.1.5": 3, "1.2.840.113549.1.1.11": 4,
    "1.2.840.113549.1.1.12": 5, "1.2.840.113549.1.1.13": 6, "1.2.840.10040.4.3": 7, "2.16.840.1.101.3.4.3.2": 8,
    "1.2.840.10045.4.1": 9, "1.2.840.10045.4.3.2": 10, "1.2.840.10045.4.3.3": 11, "1.2.840.10045.4.3.4": 12,
    "1.3.101.112": 16,
}
_PSS_HASHES = {"sha256": 13, "sha384": 14, "sha512": 15}
_NAME_FIELDS = {NameOID.COUNTRY_NAME: "Country", NameOID.ORGANIZATION_NAME: "Organization",
                NameOID.ORGANIZATIONAL_UNIT_NAME: "OrganizationalUnit", NameOID.LOCALITY_NAME: "Locality",
                NameOID.STATE_OR_PROVINCE_NAME: "Province", NameOID.STREET_ADDRESS: "StreetAddress",
                NameOID.POSTAL_CODE: "PostalCode"}
# the extensions Go's parser reads; another one marked critical is listed in UnhandledCriticalExtensions
_HANDLED = {ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
            ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.CRL_DISTRIBUTION_POINTS,
            ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.EXTENDED_KEY_USAGE,
            ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.CERTIFICATE_POLICIES,
            ExtensionOID.AUTHORITY_INFORMATION_ACCESS, ExtensionOID.POLICY_CONSTRAINTS,
            ExtensionOID.POLICY_MAPPINGS, ExtensionOID.INHIBIT_ANY_POLICY}


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _oid(dotted: str) -> list[int]:
    return [int(part) for part in dotted.split(".")]


def _time(moment: datetime.datetime) -> str:
    """Go's time.Time in JSON (RFC 3339, fractions without trailing zeros, UTC as ``Z``)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def _name(name: x509.Name) -> dict[str, Any]:
    """Go's pkix.Name: each attribute in Names, the known ones also in their fields (the last CommonName)."""
    fields: dict[str, Any] = {"CommonName": "", "SerialNumber": "", "ExtraNames": None, "Names": [],
                              **dict.fromkeys(_NAME_FIELDS.values())}
    for attribute in name:
        value = attribute.value if isinstance(attribute.value, str) else _b64(attribute.value)
        fields["Names"].append({"Type": _oid(attribute.oid.dotted_string), "Value": value})
        if attribute.oid == NameOID.COMMON_NAME:
            fields["CommonName"] = value
        elif attribute.oid == NameOID.SERIAL_NUMBER:
            fields["SerialNumber"] = value
        elif attribute.oid in _NAME_FIELDS:
            fields[_NAME_FIELDS[attribute.oid]] = [*(fields[_NAME_FIELDS[attribute.oid]] or []), value]
    fields["Names"] = fields["Names"] or None
    return fields


def _public_key(key: Any) -> tuple[int, Any]:
    """Go's PublicKeyAlgorithm and the key as Go marshals it."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return 1, {"N": numbers.n, "E": numbers.e}
    if isinstance(key, dsa.DSAPublicKey):
        numbers = key.public_numbers()
        parameters = numbers.parameter_numbers
        return 2, {"P": parameters.p, "Q": parameters.q, "G": parameters.g, "Y": numbers.y}
    if isinstance(key, ec.EllipticCurvePublicKey):
        numbers = key.public_numbers()
        return 3, {"Curve": {}, "X": numbers.x, "Y": numbers.y}
    if isinstance(key, ed25519.Ed25519PublicKey):
        return 4, _b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    return 0, None


def _signature_algorithm(signed: x509.Certificate | x509.CertificateSigningRequest) -> int:
    dotted = signed.signature_algorithm_oid.dotted_string
    if dotted == "1.2.840.113549.1.1.10":  # RSASSA-PSS: Go tells the hash from the parameters
        digest = signed.signature_hash_algorithm
        return _PSS_HASHES.get(digest.name if digest else "", 0)
    return _SIGNATURE_ALGORITHMS.get(dotted, 0)


def _url(text: str) -> dict[str, Any]:
    """Go's url.URL marshalled (as far as a certificate's URI needs: no user information)."""
    parts = urlsplit(text)
    return {"Scheme": parts.scheme, "Opaque": "", "User": None, "Host": parts.netloc, "Path": parts.path,
            "RawPath": "", "OmitHost": False, "ForceQuery": False, "RawQuery": parts.query,
            "Fragment": parts.fragment, "RawFragment": ""}


def _ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return str(address)


def _subnet(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> dict[str, Any]:
    return {"IP": str(network.network_address), "Mask": _b64(network.netmask.packed)}


def _extensions(extensions: x509.Extensions, fields: dict[str, Any]) -> None:
    """The fields Go's parser fills from the extensions it reads."""
    unhandled = []
    for extension in extensions:
        value = extension.value
        if extension.critical and extension.oid not in _HANDLED:
            unhandled.append(_oid(extension.oid.dotted_string))
        if isinstance(value, x509.KeyUsage):
            fields["KeyUsage"] = sum(bit for attribute, bit in _KEY_USAGE_BITS if getattr(value, attribute))
            if value.key_agreement:
                fields["KeyUsage"] += 128 * value.encipher_only + 256 * value.decipher_only
        elif isinstance(value, x509.BasicConstraints):
            fields.update(BasicConstraintsValid=True, IsCA=value.ca,
                          MaxPathLen=-1 if value.path_length is None else value.path_length,
                          MaxPathLenZero=value.path_length == 0)
        elif isinstance(value, x509.SubjectAlternativeName):
            fields["DNSNames"] = value.get_values_for_type(x509.DNSName) or None
            fields["EmailAddresses"] = value.get_values_for_type(x509.RFC822Name) or None
            fields["IPAddresses"] = [_ip(address) for address in value.get_values_for_type(x509.IPAddress)] or None
            fields["URIs"] = [_url(uri) for uri in value.get_values_for_type(x509.UniformResourceIdentifier)] or None
        elif isinstance(value, x509.ExtendedKeyUsage):
            known = [_EXT_KEY_USAGES[usage.dotted_string] for usage in value if usage.dotted_string in _EXT_KEY_USAGES]
            unknown = [_oid(usage.dotted_string) for usage in value if usage.dotted_string not in _EXT_KEY_USAGES]
            fields.update(ExtKeyUsage=known or None, UnknownExtKeyUsage=unknown or None)
        elif isinstance(value, x509.SubjectKeyIdentifier):
            fields["SubjectKeyId"] = _b64(value.digest)
        elif isinstance(value, x509.AuthorityKeyIdentifier):
            fields["AuthorityKeyId"] = _b64(value.key_identifier)
        elif isinstance(value, x509.AuthorityInformationAccess):
            for method, key in ((x509.AuthorityInformationAccessOID.OCSP, "OCSPServer"),
                                (x509.AuthorityInformationAccessOID.CA_ISSUERS, "IssuingCertificateURL")):
                found = [entry.access_location.value for entry in value if entry.access_method == method
                         and isinstance(entry.access_location, x509.UniformResourceIdentifier)]
                fields[key] = found or None
        elif isinstance(value, x509.CRLDistributionPoints):
            fields["CRLDistributionPoints"] = [name.value for point in value for name in point.full_name or []
                                               if isinstance(name, x509.UniformResourceIdentifier)] or None
        elif isinstance(value, x509.CertificatePolicies):
            identifiers = [policy.policy_identifier.dotted_string for policy in value]
            fields["PolicyIdentifiers"] = [_oid(dotted) for dotted in identifiers] or None
            fields["Policies"] = identifiers or None
        elif isinstance(value, x509.NameConstraints):
            fields["PermittedDNSDomainsCritical"] = extension.critical
            for subtrees, prefix in ((value.permitted_subtrees, "Permitted"), (value.excluded_subtrees, "Excluded")):
                names = list(subtrees or [])
                fields[f"{prefix}DNSDomains"] = [name.value for name in names if isinstance(name, x509.DNSName)] or None
                fields[f"{prefix}EmailAddresses"] = [name.value for name in names
                                                     if isinstance(name, x509.RFC822Name)] or None
                fields[f"{prefix}IPRanges"] = [_subnet(name.value) for name in names
                                               if isinstance(name, x509.IPAddress)] or None
                fields[f"{prefix}URIDomains"] = [name.value for name in names
                                                 if isinstance(name, x509.UniformResourceIdentifier)] or None
    fields["UnhandledCriticalExtensions"] = unhandled or None


def certificate_document(certificate: x509.Certificate) -> dict[str, Any]:
    """One certificate as OPA's JSON of Go's x509.Certificate (with OPA's ``URIStrings``)."""
    algorithm, key = _public_key(certificate.public_key())
    tbs = certificate.tbs_certificate_bytes
    fields: dict[str, Any] = {
        "Raw": _b64(certificate.public_bytes(serialization.Encoding.DER)), "RawTBSCertificate": _b64(tbs),
        "RawSubjectPublicKeyInfo": _b64(certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)),
        "RawSubject": _b64(certificate.subject.public_bytes()), "RawIssuer": _b64(certificate.issuer.public_bytes()),
        "Signature": _b64(certificate.signature), "SignatureAlgorithm": _signature_algorithm(certificate),
        "PublicKeyAlgorithm": algorithm, "PublicKey": key, "Version": certificate.version.value + 1,
        "SerialNumber": certificate.serial_number, "Issuer": _name(certificate.issuer),
        "Subject": _name(certificate.subject), "NotBefore": _time(certificate.not_valid_before_utc),
        "NotAfter": _time(certificate.not_valid_after_utc), "KeyUsage": 0,
        "Extensions": [{"Id": _oid(extension.oid.dotted_string), "Critical": extension.critical,
                        "Value": _b64(extension.value.public_bytes())} for extension in certificate.extensions] or None,
        "ExtraExtensions": None, "UnhandledCriticalExtensions": None, "ExtKeyUsage": None, "UnknownExtKeyUsage": None,
        "BasicConstraintsValid": False, "IsCA": False, "MaxPathLen": 0, "MaxPathLenZero": False,
        "SubjectKeyId": None, "AuthorityKeyId": None, "OCSPServer": None, "IssuingCertificateURL": None,
        "DNSNames": None, "EmailAddresses": None, "IPAddresses": None, "URIs": None,
        "PermittedDNSDomainsCritical": False, "PermittedDNSDomains": None, "ExcludedDNSDomains": None,
        "PermittedIPRanges": None, "ExcludedIPRanges": None, "PermittedEmailAddresses": None,
        "ExcludedEmailAddresses": None, "PermittedURIDomains": None, "ExcludedURIDomains": None,
        "CRLDistributionPoints": None, "PolicyIdentifiers": None, "Policies": None, "PolicyMappings": None,
        "InhibitAnyPolicy": 0, "InhibitAnyPolicyZero": False, "InhibitPolicyMapping": 0,
        "InhibitPolicyMappingZero": False, "RequireExplicitPolicy": 0, "RequireExplicitPolicyZero": False,
    }
    _extensions(certificate.extensions, fields)
    uris = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier) if fields["URIs"] else []
    fields["URIStrings"] = uris or None
    return fields


def _pem_blocks(name: str, data: bytes, kind: str) -> bytes:
    """The DER of every PEM block of ``data`` (Go's pem.Decode loop, which skips a block that does not decode);
    a block of another type is an error."""
    der = b""
    for block_type, content in _decoded_blocks(data):
        if block_type != kind.encode():
            raise BuiltinError(f"{name}: PEM block type is '{block_type.decode(errors='replace')}', expected {kind}")
        der += content
    return der


def _line(data: bytes) -> tuple[bytes, bytes]:
    """Go's pem getLine: the first line without trailing spaces, tabs and CR, and what follows it."""
    end = data.find(b"\n")
    line, rest = (data, b"") if end < 0 else (data[:end], data[end + 1:])
    return line.rstrip(b" \t\r"), rest


def _pem_block(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """Go's pem.Decode: the first block that decodes, as (type, bytes, rest), skipping malformed ones."""
    rest = data
    while True:
        if rest.startswith(b"-----BEGIN "):
            rest = rest[len(b"-----BEGIN "):]
        elif b"\n-----BEGIN " in rest:
            rest = rest.split(b"\n-----BEGIN ", 1)[1]
        else:
            return None
        type_line, rest = _line(rest)
        if not type_line.endswith(b"-----"):
            continue
        block_type = type_line[:-5]
        headers = False
        while rest and b":" in _line(rest)[0]:
            headers, rest = True, _line(rest)[1]
        if not rest:
            return None
        if not headers and rest.startswith(b"-----END "):
            end, trailer_start = 0, len(b"-----END ")
        else:
            end = rest.find(b"\n-----END ")
            trailer_start = end + len(b"\n-----END ")
        if end < 0:
            continue
        trailer = rest[trailer_start:trailer_start + len(block_type) + 5]
        if trailer != block_type + b"-----" or _line(rest[trailer_start + len(trailer):])[0]:
            continue
        encoded = rest[:end].replace(b" ", b"").replace(b"\t", b"").replace(b"\r", b"").replace(b"\n", b"")
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        return block_type, content, _line(rest[trailer_start:])[1]


def _decoded_blocks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Each PEM block Go's pem.Decode loop finds, as (type, bytes), in order."""
    blocks = []
    while (found := _pem_block(data)) is not None:
        block_type, content, data = found
        blocks.append((block_type, content))
    return blocks


def _der_or_pem(name: str, text: str, kind: str) -> bytes:
    """OPA's reading of the operand: PEM, or base64 holding PEM or DER."""
    data = text.encode()
    if not data.startswith(b"-----BEGIN"):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BuiltinError(f"{name}: illegal base64 data") from None
        if not data.startswith(b"-----BEGIN"):
            return data
    return _pem_blocks(name, data, kind)


def _certificates(name: str, der: bytes) -> list[tuple[x509.Certificate, dict[str, Any]]]:
    """Go's x509.ParseCertificates: concatenated DER certificates, each read by its ASN.1 length, with its
    document (:func:`certificate_document`)."""
    found = []
    while der:
        length = _der_length(der)
        if length is None:
            raise BuiltinError(f"{name}: x509: malformed certificate")
        try:
            certificate = x509.load_der_x509_certificate(der[:length])
            document = certificate_document(certificate)  # read lazily: a malformed extension or key fails here
        except (ValueError, UnsupportedAlgorithm) as error:
            raise BuiltinError(f"{name}: x509: {error}") from None
        found.append((certificate, document))
        der = der[length:]
    return found


def _der_length(der: bytes) -> int | None:
    """The total length of the DER SEQUENCE at the start of ``der``, or None."""
    if len(der) < 2 or der[0] != 0x30:
        return None
    if der[1] < 0x80:
        return 2 + der[1]
    size = der[1] & 0x7F
    if size == 0 or size > 4 or len(der) < 2 + size:
        return None
    return 2 + size + int.from_bytes(der[2:2 + size], "big")


@builtin("crypto.x509.parse_certificates", 1)
def parse_certificates(certificates: Any) -> list[dict[str, Any]]:
    name = "crypto.x509.parse_certificates"
    der = _der_or_pem(name, operand(name, 1, certificates, str), "CERTIFICATE")
    return [document for _, document in _certificates(name, der)]


@builtin("crypto.x509.parse_certificate_request", 1)
def parse_certificate_request(request: Any) -> dict[str, Any]:
    """Go's x509.CertificateRequest: the subject, key, signature, the requested extensions and their names."""
    name = "crypto.x509.parse_certificate_request"
    text = operand(name, 1, request, str)
    data = text.encode()
    if not text.startswith("-----BEGIN CERTIFICATE REQUEST-----"):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BuiltinError(f"{name}: illegal base64 data") from None
    block = _pem_block(data)
    if block is not None:
        if block[0] != b"CERTIFICATE REQUEST":
            raise BuiltinError(f"{name}: invalid PEM-encoded certificate signing request")
        data = block[1]
    try:
        csr = x509.load_der_x509_csr(data)
    except ValueError as error:
        raise BuiltinError(f"{name}: x509: {error}") from None
    algorithm, key = _public_key(csr.public_key())
    extensions = list(csr.extensions)
    fields: dict[str, Any] = {
        "Raw": _b64(csr.public_bytes(serialization.Encoding.DER)), "RawTBSCertificateRequest": _b64(csr.tbs_certrequest_bytes),
        "RawSubjectPublicKeyInfo": _b64(csr.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)),
        "RawSubject": _b64(csr.subject.public_bytes()), "Version": 0, "Signature": _b64(csr.signature),
        "SignatureAlgorithm": _signature_algorithm(csr), "PublicKeyAlgorithm": algorithm, "PublicKey": key,
        "Subject": _name(csr.subject),
        "Attributes": [{"Type": _oid("1.2.840.113549.1.9.14"), "Value": [[
            {"Type": _oid(extension.oid.dotted_string), "Value": _b64(extension.value.public_bytes())}
            for extension in extensions]]}] if extensions else None,
        "Extensions": [{"Id": _oid(extension.oid.dotted_string), "Critical": extension.critical,
                        "Value": _b64(extension.value.public_bytes())} for extension in extensions] or None,
        "ExtraExtensions": None, "DNSNames": None, "EmailAddresses": None, "IPAddresses": None, "URIs": None,
    }
    for extension in extensions:
        if isinstance(extension.value, x509.SubjectAlternativeName):
            names = extension.value
            fields["DNSNames"] = names.get_values_for_type(x509.DNSName) or None
            fields["EmailAddresses"] = names.get_values_for_type(x509.RFC822Name) or None
            fields["IPAddresses"] = [_ip(address) for address in names.get_values_for_type(x509.IPAddress)] or None
            fields["URIs"] = [_url(uri) for uri in names.get_values_for_type(x509.UniformResourceIdentifier)] or None
    return fields


@builtin("crypto.x509.parse_rsa_private_key", 1)
def parse_rsa_private_key(pem: Any) -> dict[str, Any] | None:
    """The first private key of the PEM (or base64 of PEM) as a JWK: RSA (``n``, ``e``, ``d``, ``p``, ``q``,
    ``dp``, ``dq``, ``qi``), and, as OPA also reads them, EC (``crv``, ``x``, ``y``, ``d``) and Ed25519 keys."""
    name = "crypto.x509.parse_rsa_private_key"
    data = _pem_or_base64(name, operand(name, 1, pem, str))
    if not data:
        raise BuiltinError(f"{name}: input PEM data was empty")
    for kind, content in _decoded_blocks(data):
        if kind not in (b"RSA PRIVATE KEY", b"PRIVATE KEY", b"EC PRIVATE KEY"):
            continue
        try:
            return _jwk(serialization.load_der_private_key(content, password=None))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise BuiltinError(f"{name}: failed to parse the {kind.decode()} block") from None
    return None  # no private key block: OPA's null


def _base64url_number(number: int, size: int = 0) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(max(size, (number.bit_length() + 7) // 8, 1), "big")).rstrip(
        b"=").decode()


def _jwk(key: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        return {"kty": "RSA", **{member: _base64url_number(value) for member, value in (
            ("n", numbers.public_numbers.n), ("e", numbers.public_numbers.e), ("d", numbers.d), ("p", numbers.p),
            ("q", numbers.q), ("dp", numbers.dmp1), ("dq", numbers.dmq1), ("qi", numbers.iqmp))}}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.private_numbers()
        size = (key.curve.key_size + 7) // 8
        return {"kty": "EC", "crv": {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(
            key.curve.name, key.curve.name), "x": _base64url_number(numbers.public_numbers.x, size),
            "y": _base64url_number(numbers.public_numbers.y, size), "d": _base64url_number(numbers.private_value, size)}
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = serialization.Encoding.Raw
        return {"kty": "OKP", "crv": "Ed25519",
                "x": base64.urlsafe_b64encode(key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
                                              ).rstrip(b"=").decode(),
                "d": base64.urlsafe_b64encode(key.private_bytes(raw, serialization.PrivateFormat.Raw,
                                                                serialization.NoEncryption())).rstrip(b"=").decode()}
    raise BuiltinError("crypto.x509.parse_rsa_private_key: unsupported private key type")


def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Whether ``parent``'s key verifies ``child``'s signature (Go's CheckSignatureFrom, without its CA checks)."""
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _may_sign(fields: dict[str, Any]) -> bool:
    """Go's isValid for an intermediate or root: a CA by its basic constraints."""
    return bool(fields["BasicConstraintsValid"] and fields["IsCA"])


def _usable_for_servers(fields: dict[str, Any]) -> bool:
    """Go's default VerifyOptions ask for ServerAuth: a certificate with extended key usages must allow it."""
    usages = fields["ExtKeyUsage"]
    if usages is None and fields["UnknownExtKeyUsage"] is None:
        return True
    return bool(usages) and (0 in usages or 1 in usages)


def _chain(leaf: x509.Certificate, intermediates: list[x509.Certificate], root: x509.Certificate,
           now: datetime.datetime) -> list[x509.Certificate] | None:
    """The first chain Go's Verify finds from ``leaf`` to ``root`` through ``intermediates``, or None; like Go's, the
    search gives up after MAX_SIGNATURE_CHECKS signature checks (a hostile bundle would try every ordering)."""
    documents: dict[int, dict[str, Any]] = {}
    checks = 0

    def signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
        nonlocal checks
        checks += 1
        if checks > MAX_SIGNATURE_CHECKS:
            raise _SearchExhausted
        return _signed_by(child, parent)

    def fields(certificate: x509.Certificate) -> dict[str, Any]:
        return documents.setdefault(id(certificate), certificate_document(certificate))

    def valid(certificate: x509.Certificate) -> bool:
        return (certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc
                and _usable_for_servers(fields(certificate)))

    def extend(chain: list[x509.Certificate]) -> list[x509.Certificate] | None:
        current = chain[-1]
        for candidate, is_root in [(root, True), *((found, False) for found in intermediates)]:
            if any(candidate is seen for seen in chain) or candidate.subject != current.issuer:
                continue
            if not (valid(candidate) and _may_sign(fields(candidate)) and signed_by(current, candidate)):
                continue
            path_length = fields(candidate)["MaxPathLen"]
            if not fields(candidate)["MaxPathLenZero"] and path_length <= 0:
                path_length = -1
            if path_length >= 0 and len(chain) - 1 > path_length:
                continue
            if is_root:
                return [*chain, candidate]
            if len(chain) < 16 and (found := extend([*chain, candidate])) is not None:
                return found
        return None

    if leaf.public_bytes(serialization.Encoding.DER) == root.public_bytes(serialization.Encoding.DER):
        return [leaf] if valid(leaf) else None
    try:
        return extend([leaf]) if valid(leaf) else None
    except _SearchExhausted:
        return None


MAX_SIGNATURE_CHECKS = 100  # Go's crypto/x509 maxChainSignatureChecks


class _SearchExhausted(Exception):
    """The chain search used its signature checks."""


@builtin("crypto.x509.parse_and_verify_certificates", 1)
def parse_and_verify_certificates(certificates: Any) -> list[Any]:
    """``[true, chain]`` (leaf first) when the last certificate chains to the first (the root) through the
    others, as Go's Verify with default options (now, ServerAuth) decides; ``[false, []]`` otherwise."""
    name = "crypto.x509.parse_and_verify_certificates"
    text = operand(name, 1, certificates, str)
    try:
        parsed = [certificate for certificate, _ in _certificates(name, _der_or_pem(name, text, "CERTIFICATE"))]
    except BuiltinError:
        return [False, []]
    if len(parsed) < 2:
        return [False, []]
    chain = _chain(parsed[-1], parsed[1:-1], parsed[0], datetime.datetime.now(datetime.UTC))
    if chain is None:
        return [False, []]
    return [True, [certificate_document(found) for found in chain]]


def _private_key_document(key: Any) -> Any:
    """A private key as Go marshals it (its public part's fields beside the private ones)."""
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        return {"N": numbers.public_numbers.n, "E": numbers.public_numbers.e, "D": numbers.d,
                "Primes": [numbers.p, numbers.q],
                "Precomputed": {"Dp": numbers.dmp1, "Dq": numbers.dmq1, "Qinv": numbers.iqmp, "CRTValues": []}}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.private_numbers()
        return {"Curve": {}, "X": numbers.public_numbers.x, "Y": numbers.public_numbers.y, "D": numbers.private_value}
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
        return _b64(seed + key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    raise BuiltinError("crypto.x509.parse_keypair: tls: unknown private key type")


def _pem_or_base64(name: str, text: str) -> bytes:
    data = text.encode()
    if data.startswith(b"-----BEGIN"):
        return data
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BuiltinError(f"{name}: illegal base64 data") from None


@builtin("crypto.x509.parse_keypair", 2)
def parse_keypair(certificates: Any, private_key: Any) -> dict[str, Any]:
    """Go's tls.X509KeyPair: the certificates (DER, base64), the key that must match the first, and the leaf."""
    name = "crypto.x509.parse_keypair"
    certificate_data = _pem_or_base64(name, operand(name, 1, certificates, str))
    key_data = _pem_or_base64(name, operand(name, 2, private_key, str))
    blocks = _decoded_blocks(certificate_data) if certificate_data.startswith(b"-----BEGIN") \
        else [(b"CERTIFICATE", certificate_data)]
    ders = [der for kind, der in blocks if kind == b"CERTIFICATE"]
    if not ders:
        raise BuiltinError(f"{name}: tls: failed to find any PEM data in certificate input")
    key_blocks = [content for kind, content in _decoded_blocks(key_data)
                  if kind == b"PRIVATE KEY" or kind.endswith(b" PRIVATE KEY")]
    if not key_blocks:
        raise BuiltinError(f"{name}: tls: failed to find any PEM data in key input")
    try:
        key = serialization.load_der_private_key(key_blocks[0], password=None)
        leaf = x509.load_der_x509_certificate(ders[0])
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise BuiltinError(f"{name}: tls: failed to parse private key") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != leaf.public_key().public_bytes(
            serialization.Encoding.DER, spki):
        raise BuiltinError(f"{name}: tls: private key does not match public key")
    document = certificate_document(leaf)
    del document["URIStrings"]
    return {"Certificate": [_b64(der) for der in ders], "PrivateKey": _private_key_document(key), "Leaf": document,
            "OCSPStaple": None, "SignedCertificateTimestamps": None, "SupportedSignatureAlgorithms": None}

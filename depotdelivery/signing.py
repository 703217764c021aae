"""Ed25519 keys and detached signatures (PyNaCl).

Key files are one line of text each, so admins can read, diff and paste them:

    keys/ci.pub   depotdelivery-ed25519-public <keyid> <base64 key>
    keys/ci.key   depotdelivery-ed25519-secret <keyid> <base64 seed>   (mode 0600)

A key id is the first 16 hex digits of the sha256 of the public key.
A signature file is canonical JSON: {"signatures": [{"keyid", "sig"}]}.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Iterable

from .errors import ConfigError, ImageInvalid, UsageError
from .model import canonical_bytes

PUBLIC_TAG = "depotdelivery-ed25519-public"
SECRET_TAG = "depotdelivery-ed25519-secret"


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    keyid: str
    key: bytes  # 32 raw bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32 or key_id(self.key) != self.keyid:
            raise ValueError("public key does not match its key id")

    def line(self) -> str:
        return f"{PUBLIC_TAG} {self.keyid} {base64.b64encode(self.key).decode()}\n"

    def verify(self, message: bytes, signature: bytes) -> bool:
        from nacl.exceptions import BadSignatureError
        from nacl.signing import VerifyKey
        try:
            VerifyKey(self.key).verify(message, signature)
            return True
        except (BadSignatureError, ValueError, TypeError):
            return False


@dataclass(frozen=True)
class SecretKey:
    keyid: str
    seed: bytes  # 32 raw bytes

    def public(self) -> PublicKey:
        from nacl.signing import SigningKey
        return PublicKey(self.keyid, bytes(SigningKey(self.seed).verify_key))

    def sign(self, message: bytes) -> bytes:
        from nacl.signing import SigningKey
        return SigningKey(self.seed).sign(message).signature


def generate() -> SecretKey:
    from nacl.signing import SigningKey
    sk = SigningKey.generate()
    return SecretKey(key_id(bytes(sk.verify_key)), bytes(sk))


def write_keypair(prefix: str) -> tuple[str, str]:
    """Write PREFIX.key (0600) and PREFIX.pub; refuse to overwrite a key."""
    secret_path, public_path = prefix + ".key", prefix + ".pub"
    for p in (secret_path, public_path):
        if os.path.exists(p):
            raise UsageError(f"{p} already exists: remove it or choose another name")
    os.makedirs(os.path.dirname(os.path.abspath(secret_path)), exist_ok=True)
    sk = generate()
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{SECRET_TAG} {sk.keyid} {base64.b64encode(sk.seed).decode()}\n")
    with open(public_path, "w") as f:
        f.write(sk.public().line())
    return secret_path, public_path


def _read_key_line(path: str, tag: str) -> tuple[str, bytes]:
    try:
        with open(path) as f:
            text = f.read(4096)
    except OSError as e:
        raise ConfigError(f"cannot read key {path}: {e.strerror}; "
                          "check the path (depotdelivery keygen makes one)") from None
    parts = text.split()
    try:
        if len(parts) != 3 or parts[0] != tag:
            raise ValueError
        raw = base64.b64decode(parts[2], validate=True)
        if len(raw) != 32:
            raise ValueError
    except (ValueError, binascii.Error):
        what = "public" if tag == PUBLIC_TAG else "secret"
        raise ConfigError(f"{path} is not a depotdelivery {what} key "
                          f"(expected '{tag} <keyid> <base64>')") from None
    return parts[1], raw


def load_public(path: str) -> PublicKey:
    keyid, raw = _read_key_line(path, PUBLIC_TAG)
    try:
        return PublicKey(keyid, raw)
    except ValueError:
        raise ConfigError(f"{path}: key id {keyid} does not match the key") from None


def load_secret(path: str) -> SecretKey:
    keyid, raw = _read_key_line(path, SECRET_TAG)
    sk = SecretKey(keyid, raw)
    try:
        if sk.public().keyid != keyid:
            raise ValueError
    except ValueError:
        raise ConfigError(f"{path}: key id {keyid} does not match the key") from None
    return sk


def signature_document(message: bytes, keys: Iterable[SecretKey]) -> bytes:
    sigs = [{"keyid": k.keyid, "sig": base64.b64encode(k.sign(message)).decode()}
            for k in keys]
    return canonical_bytes({"signatures": sigs})


def check_signatures(message: bytes, sig_document: bytes, trusted: dict[str, PublicKey],
                     *, what: str, threshold: int = 1) -> str:
    """Return the key id of a trusted key that signed `message`; ImageInvalid
    otherwise.  Untrusted or unknown key ids are ignored, never trusted."""
    if threshold < 1:
        raise ValueError("a threshold below 1 would accept unsigned data")
    try:
        sigs = json.loads(sig_document)["signatures"]
        if not isinstance(sigs, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ImageInvalid(f"{what}: signature file is malformed; republish it") from None
    good: list[str] = []
    seen_ids = []
    for s in sigs:
        if not isinstance(s, dict):
            continue
        keyid, sig_b64 = s.get("keyid"), s.get("sig")
        seen_ids.append(str(keyid))
        key = trusted.get(keyid) if isinstance(keyid, str) else None
        if key is None or not isinstance(sig_b64, str) or keyid in good:
            continue
        try:
            sig = base64.b64decode(sig_b64, validate=True)
        except (ValueError, binascii.Error):
            continue
        if key.verify(message, sig) and isinstance(keyid, str):
            good.append(keyid)
    if len(good) >= threshold:
        return good[0]
    if any(k in trusted for k in seen_ids):
        raise ImageInvalid(f"{what}: signature does not match the signed bytes "
                           "(tampered); do not run it, republish from CI")
    raise ImageInvalid(f"{what}: not signed by a key this site trusts "
                       f"(signed by {', '.join(seen_ids) or 'nobody'}); "
                       "add the key to trusted_keys or republish with a trusted key")


def envelope(record_bytes: bytes, keys: Iterable[SecretKey]) -> bytes:
    """A self-contained signed record: the canonical text of the record as a
    string (so the exact signed bytes travel with it) plus signatures."""
    keys = list(keys)
    sigs = json.loads(signature_document(record_bytes, keys))["signatures"]
    return canonical_bytes({"signed": record_bytes.decode("utf-8"), "signatures": sigs})


def open_envelope(data: bytes, trusted: dict[str, PublicKey], *, what: str) -> tuple[bytes, str]:
    """-> (signed bytes, signing key id), or ImageInvalid."""
    try:
        doc = json.loads(data)
        signed = doc["signed"].encode("utf-8")
        sigs = canonical_bytes({"signatures": doc["signatures"]})
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise ImageInvalid(f"{what}: malformed signed record (truncated or edited); "
                           "republish it") from None
    return signed, check_signatures(signed, sigs, trusted, what=what)

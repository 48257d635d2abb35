"""The ledger's Ed25519 signing key and the C2SP signed-note checkpoints it signs.

The key comes from LEDGER_SIGNING_KEY (base64 of the 32-byte private seed; required in
production). Elsewhere a development key is generated once into var/ledger-dev.key, which
git ignores: no key is ever committed.
"""

from __future__ import annotations

import base64
import os
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from opencity.ledger.verify import SIGNATURE_DASH, key_id, verifier_key


def _dev_seed(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return base64.b64decode(path.read_text().strip())
    seed = os.urandom(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(seed).decode() + "\n")
    return seed


def parse_seed(text: str) -> bytes:
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY must be base64.") from exc
    if len(seed) != 32:
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY must be 32 bytes (base64 of 44 chars).")
    return seed


@cache
def private_key() -> Ed25519PrivateKey:
    if settings.LEDGER_SIGNING_KEY:
        seed = parse_seed(settings.LEDGER_SIGNING_KEY)
    else:
        seed = _dev_seed(Path(settings.LEDGER_DEV_KEY_FILE))
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_bytes() -> bytes:
    return private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def origin() -> str:
    return settings.LEDGER_ORIGIN


def public_verifier_key() -> str:
    return verifier_key(origin(), public_key_bytes())


def sign_checkpoint(size: int, root: bytes) -> str:
    """The signed note: origin, size, base64 root, a blank line, one Ed25519 signature line."""
    body = f"{origin()}\n{size}\n{base64.b64encode(root).decode()}\n"
    signature = private_key().sign(body.encode())
    encoded = base64.b64encode(key_id(origin(), public_key_bytes()) + signature).decode()
    return f"{body}\n{SIGNATURE_DASH}{origin()} {encoded}\n"

"""Check the portal's public ledger without trusting the city: `python -m opencity.ledger.verify`.

    python -m opencity.ledger.verify https://opencity.example.ua [--receipt CODE] [--full]

This file imports only the Python standard library and `cryptography`, so it can be copied
alone (it is also served at /ledger/verify.py) and run by anyone: `python verify.py URL`.

What it checks, in order, and what it says when something is wrong:
1. the latest checkpoint is signed by the ledger key (pinned in the state file on first use,
   or given with --key): "checkpoint signature";
2. the new checkpoint extends the last one this verifier saw (a consistency proof), so no
   recorded act was changed, removed or reordered since: "consistency";
3. with --receipt, the act on the receipt is in the log at its index (an inclusion proof):
   "inclusion"; with --salt and --person it also opens the person commitment: "commitment";
4. with --full, every leaf is downloaded and the root recomputed: "full recomputation".
The exit status is 0 when every check passed, 1 when one failed, 2 on a usage or network error.

The Merkle tree is RFC 9162 (as RFC 6962): SHA-256, leaf hash H(0x00 || leaf), node hash
H(0x01 || left || right). Checkpoints are C2SP signed notes (https://c2sp.org/tlog-checkpoint,
https://c2sp.org/signed-note) with an Ed25519 signature.
"""

from __future__ import annotations

import os
import sys

# Run as a file inside the project (python opencity/ledger/verify.py), this folder comes first
# on sys.path, and its selectors.py would shadow the standard library's: drop it.
if __name__ == "__main__" and os.path.dirname(os.path.abspath(__file__)) in map(
    os.path.abspath, sys.path[:1]
):
    del sys.path[0]

import argparse  # noqa: E402
import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# --- RFC 9162 tree hashing -------------------------------------------------------------------

EMPTY_ROOT = hashlib.sha256(b"").digest()
ED25519_ALGORITHM = b"\x01"
SIGNATURE_DASH = "\u2014 "


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) computed with a stack: O(n) time, O(log n) memory."""
    if not hashes:
        return EMPTY_ROOT
    stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
    for value in hashes:
        size, current = 1, value
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            current = node_hash(left, current)
            size += left_size
        stack.append((size, current))
    current = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        current = node_hash(left, current)
    return current


class ProofError(ValueError):
    """A proof that does not prove what it claims to."""


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root implied by a leaf hash and its inclusion proof."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn = index, size - 1
    result = leaf
    for element in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(element, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return result


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    if any(len(element) != 32 for element in proof) or len(leaf) != 32:
        raise ProofError("a hash in the inclusion proof is not 32 bytes long")
    if not hmac.compare_digest(root_from_inclusion_proof(index, size, leaf, proof), root):
        raise ProofError(f"leaf {index} is not in the tree of {size} leaves with this root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2: the tree of new_size leaves extends the one of old_size."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"the log shrank from {old_size} to {new_size} leaves")
    if any(len(element) != 32 for element in proof):
        raise ProofError("a hash in the consistency proof is not 32 bytes long")
    if old_size == new_size:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError(f"two different roots for the same size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(element, fr)
            sr = node_hash(element, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than needed")
    if not hmac.compare_digest(fr, old_root):
        raise ProofError(f"the proof does not lead to the old root of size {old_size}")
    if not hmac.compare_digest(sr, new_root):
        raise ProofError(f"the proof does not lead to the new root of size {new_size}")


# --- C2SP signed notes and checkpoints ---------------------------------------------------------


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALGORITHM + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The C2SP verifier key string: name+hex(key id)+base64(0x01 || public key)."""
    encoded = base64.b64encode(ED25519_ALGORITHM + public_key).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    try:
        # A key name never holds "+" (C2SP signed-note); the base64 key may.
        name, hash_hex, encoded = text.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise ProofError(f"not a verifier key: {text!r}") from exc
    if len(raw) != 33 or raw[:1] != ED25519_ALGORITHM:
        raise ProofError("the verifier key is not an Ed25519 key")
    if key_id(name, raw[1:]).hex() != hash_hex:
        raise ProofError("the verifier key's id does not match its name and key")
    return name, raw[1:]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str  # the signed body, ending with a newline


def open_checkpoint(note: str, name: str, public_key: bytes) -> Checkpoint:
    """Verify the note's signature by (name, key) and parse its checkpoint body."""
    body, sep, signatures = note.partition("\n\n")
    if not sep:
        raise ProofError("checkpoint signature: the note has no signature block")
    body += "\n"
    wanted = key_id(name, public_key)
    found = False
    for line in signatures.splitlines():
        if not line.startswith(SIGNATURE_DASH):
            raise ProofError("checkpoint signature: a malformed signature line")
        signer, _, encoded = line[len(SIGNATURE_DASH) :].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError as exc:
            raise ProofError("checkpoint signature: not base64") from exc
        if signer != name or raw[:4] != wanted:
            continue
        found = True
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(raw[4:], body.encode())
        except InvalidSignature as exc:
            raise ProofError(
                f"checkpoint signature: does not verify with key {verifier_key(name, public_key)}"
            ) from exc
    if not found:
        raise ProofError(
            f"checkpoint signature: not signed by {verifier_key(name, public_key)}"
            " (signed with another key?)"
        )
    lines = body.split("\n")
    try:
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        size = int(size_text)
        root = base64.b64decode(root_text, validate=True)
    except (IndexError, ValueError) as exc:
        raise ProofError("checkpoint: the body is not origin, size and root hash") from exc
    if size < 0 or len(root) != 32 or str(size) != size_text:
        raise ProofError("checkpoint: bad tree size or root hash")
    if origin != name:
        raise ProofError(f"checkpoint: origin {origin!r} is not the log {name!r}")
    return Checkpoint(origin=origin, size=size, root=root, text=body)


# --- Talking to the portal ---------------------------------------------------------------------


class Portal:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str, **query: int | str) -> bytes:
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        if not url.startswith(("http://", "https://")):
            raise ValueError("the portal address must start with http:// or https://")
        headers = {"User-Agent": "opencity-ledger-verify"}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return response.read()

    def json(self, path: str, **query: int | str) -> dict:
        return json.loads(self.get(path, **query))

    def leaves(self, start: int, end: int, page: int = 10_000) -> Iterable[bytes]:
        while start < end:
            chunk = self.json("/ledger/leaves", start=start, end=min(end, start + page))
            items = [base64.b64decode(value) for value in chunk["leaves"]]
            if not items:
                return
            yield from items
            start += len(items)


def _hashes(values: Iterable[str]) -> list[bytes]:
    return [base64.b64decode(value) for value in values]


class Failed(Exception):
    """A check failed; the message names which and why."""


def verify(
    portal: Portal,
    state_file: Path,
    *,
    key: str | None = None,
    receipt: str | None = None,
    salt: str | None = None,
    person: str | None = None,
    full: bool = False,
    say=print,
) -> Checkpoint:
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    pinned = key or state.get("key")
    if pinned is None:
        pinned = portal.get("/ledger/key").decode().strip()
        say(f"first run: trusting the key the portal shows now: {pinned}")
    try:
        name, public_key = parse_verifier_key(pinned)
        checkpoint = open_checkpoint(portal.get("/ledger/checkpoint").decode(), name, public_key)
    except ProofError as exc:
        raise Failed(str(exc)) from exc
    say(f"checkpoint signature: ok ({checkpoint.origin}, {checkpoint.size} leaves)")

    last = state.get("checkpoint")
    if last:
        old_size, old_root = last["size"], base64.b64decode(last["root"])
        if old_size > checkpoint.size:
            raise Failed(f"consistency: the log shrank from {old_size} to {checkpoint.size}")
        proof = []
        if 0 < old_size < checkpoint.size:
            sizes = {"from": old_size, "to": checkpoint.size}
            reply = portal.json("/ledger/proof/consistency", **sizes)
            proof = _hashes(reply["proof"])
        try:
            verify_consistency(old_size, checkpoint.size, old_root, checkpoint.root, proof)
        except ProofError as exc:
            raise Failed(
                f"consistency: the log is not an extension of the checkpoint of {old_size} "
                f"leaves seen before ({exc}); recorded acts were changed, removed or reordered"
            ) from exc
        say(f"consistency with the checkpoint of {old_size} leaves seen before: ok")
    else:
        say("consistency: no earlier checkpoint saved yet (the next run will check it)")

    if receipt:
        found = portal.json(f"/ledger/receipt/{urllib.parse.quote(receipt)}")
        index, data = found["index"], base64.b64decode(found["leaf"])
        if index >= checkpoint.size:
            raise Failed(f"inclusion: leaf {index} is not yet under the signed checkpoint")
        reply = portal.json("/ledger/proof/inclusion", leaf=index, size=checkpoint.size)
        try:
            verify_inclusion(
                index, checkpoint.size, leaf_hash(data), _hashes(reply["proof"]), checkpoint.root
            )
        except ProofError as exc:
            raise Failed(
                f"inclusion: the receipt's act (leaf {index}) is not in the signed log ({exc})"
            ) from exc
        say(f"inclusion of receipt {receipt} as leaf {index}: ok")
        say(f"  {data.decode()}")
        if salt and person:
            leaf = json.loads(data)
            expected = hmac.new(
                bytes.fromhex(salt), f"opencity-person:{person}".encode(), hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(leaf.get("person", ""), expected):
                raise Failed("commitment: the salt and person on the receipt do not open it")
            say("commitment: the leaf's person is the one on your receipt: ok")

    if full:
        count, hashes = 0, []
        for data in portal.leaves(0, checkpoint.size):
            hashes.append(leaf_hash(data))
            count += 1
        if count != checkpoint.size:
            raise Failed(
                f"full recomputation: the portal served {count} leaves, "
                f"the checkpoint signs {checkpoint.size}"
            )
        if not hmac.compare_digest(root_from_leaf_hashes(hashes), checkpoint.root):
            raise Failed(
                "full recomputation: the leaves do not hash to the signed root "
                "(a leaf was changed, removed or reordered)"
            )
        say(f"full recomputation of {count} leaves: ok")

    state = {
        "key": pinned,
        "checkpoint": {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": base64.b64encode(checkpoint.root).decode(),
        },
    }
    tmp = state_file.with_suffix(state_file.suffix + ".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, state_file)
    return checkpoint


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m opencity.ledger.verify",
        description="Check the OpenCity public ledger: signature, consistency, inclusion.",
    )
    parser.add_argument("base_url", help="the portal's address, e.g. https://opencity.example.ua")
    parser.add_argument("--receipt", help="a receipt code: check that its act is in the log")
    parser.add_argument("--salt", help="the salt on your receipt, to open the person commitment")
    parser.add_argument("--person", help="the person number on your receipt")
    parser.add_argument("--full", action="store_true", help="download all leaves, recompute root")
    parser.add_argument("--key", help="the verifier key to trust (default: pinned on first use)")
    parser.add_argument(
        "--state",
        default=os.path.expanduser("~/.opencity-ledger.json"),
        help="where the last checkpoint seen is kept (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        verify(
            Portal(args.base_url),
            Path(args.state),
            key=args.key,
            receipt=args.receipt,
            salt=args.salt,
            person=args.person,
            full=args.full,
        )
    except Failed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""RFC 9162 / RFC 6962 tree hashing and proofs against the Certificate Transparency vectors,
both for the verifier's checks and for proofs the server builds from its stored subtrees."""

from __future__ import annotations

import pytest

from opencity.ledger import tree
from opencity.ledger.models import Entry, Node
from opencity.ledger.services import Frontier
from opencity.ledger.verify import (
    ProofError,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# certificate-transparency-go merkle tests: the 8 leaves and the roots of sizes 1..8.
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
# (leaf index, tree size, proof)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
# (old size, new size, proof)
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip

HASHES = [leaf_hash(leaf) for leaf in LEAVES]


def test_roots_match_the_ct_reference_roots_for_every_size():
    assert root_from_leaf_hashes([]) == EMPTY
    for size in range(1, 9):
        assert root_from_leaf_hashes(HASHES[:size]) == ROOTS[size - 1], size


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_reference_inclusion_proofs_verify_and_tampered_ones_do_not(index, size, proof):
    proof = [bytes.fromhex(h) for h in proof]
    verify_inclusion(index, size, HASHES[index], proof, ROOTS[size - 1])
    flipped = [bytes([proof[0][0] ^ 8]) + proof[0][1:], *proof[1:]]
    bad = [
        (index + 1, size, HASHES[index], proof),
        (index, size, HASHES[(index + 1) % 8], proof),
        (index, size, HASHES[index], flipped),
        (index, size, HASHES[index], proof[:-1]),
        (index, size, HASHES[index], [*proof, proof[0]]),
        (index, size * 2, HASHES[index], proof),
    ]
    for case in bad:
        with pytest.raises(ProofError):
            verify_inclusion(*case, ROOTS[size - 1] if case[1] <= 8 else ROOTS[7])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_reference_consistency_proofs_verify_and_tampered_ones_do_not(old, new, proof):
    proof = [bytes.fromhex(h) for h in proof]
    verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, ROOTS[new - 1], ROOTS[old - 1], proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof[:-1])
    with pytest.raises(ProofError):
        flipped = [bytes([proof[-1][0] ^ 16]) + proof[-1][1:], *proof[:-1]][::-1]
        verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], flipped)


def _store(hashes: list[bytes]) -> None:
    """Store leaves and subtree hashes the way the sequencer does (its Frontier)."""
    from django.utils import timezone

    now, frontier, nodes = timezone.now(), Frontier(0, []), []
    for index, value in enumerate(hashes):
        Entry.objects.create(
            index=index, act="test", source_id=index, data=b"", leaf_hash=value,
            acted_at=now, appended_at=now,
        )  # fmt: skip
        frontier.append(value, nodes)
    Node.objects.bulk_create(Node(level=lv, position=pos, hash=h) for lv, pos, h in nodes)


@pytest.mark.django_db
def test_stored_tree_builds_the_reference_proofs():
    _store(HASHES)
    for index, size, proof in INCLUSION:
        assert [h.hex() for h in tree.inclusion_proof(index, size)] == proof
    for old, new, proof in CONSISTENCY:
        assert [h.hex() for h in tree.consistency_proof(old, new)] == proof
    for size in range(1, 9):
        assert tree.root(size) == ROOTS[size - 1]


@pytest.mark.django_db
def test_stored_tree_proofs_verify_for_every_leaf_and_pair_of_sizes():
    hashes = [leaf_hash(bytes([i, i * 7 % 256])) for i in range(37)]
    _store(hashes)
    roots = [root_from_leaf_hashes(hashes[:n]) for n in range(38)]
    for size in range(1, 38):
        assert tree.root(size) == roots[size]
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            verify_inclusion(index, size, hashes[index], proof, roots[size])
        for old in range(0, size + 1):
            proof = tree.consistency_proof(old, size)
            verify_consistency(old, size, roots[old], roots[size], proof)


def test_frontier_root_equals_full_recomputation():
    hashes = [leaf_hash(str(i).encode()) for i in range(100)]
    frontier, nodes = Frontier(0, []), []
    for n, value in enumerate(hashes, start=1):
        frontier.append(value, nodes)
        assert frontier.root() == root_from_leaf_hashes(hashes[:n])
    assert len(nodes) == 100 - bin(100).count("1")  # every complete subtree stored once

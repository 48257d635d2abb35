"""Proofs from the stored tree: which complete subtrees a proof needs, one read for them all.

RFC 9162 proofs are lists of subtree hashes MTH(D[a:b]). Every range the recursion produces
starts at a multiple of the largest power of two not above its length, so each splits into
at most log2(n) complete subtrees, which are stored (`Node`, `Entry.leaf_hash`). A proof is
therefore two indexed reads of O(log n) rows, whatever the log's size.
"""

from __future__ import annotations

from collections.abc import Iterable

from opencity.ledger.models import Entry, Node
from opencity.ledger.verify import EMPTY_ROOT, node_hash, split_point

Range = tuple[int, int]


def inclusion_ranges(index: int, lo: int, hi: int) -> list[Range]:
    """PATH(index, D[lo:hi]) as ranges, leaf first (RFC 9162 section 2.1.3.1)."""
    if hi - lo == 1:
        return []
    k = split_point(hi - lo)
    if index < lo + k:
        return [*inclusion_ranges(index, lo, lo + k), (lo + k, hi)]
    return [*inclusion_ranges(index, lo + k, hi), (lo, lo + k)]


def consistency_ranges(old: int, new: int) -> list[Range]:
    """PROOF(old, D[new]) as ranges (RFC 9162 section 2.1.4.1)."""

    def subproof(m: int, lo: int, hi: int, whole: bool) -> list[Range]:
        if m == hi - lo:
            return [] if whole else [(lo, hi)]
        k = split_point(hi - lo)
        if m <= k:
            return [*subproof(m, lo, lo + k, whole), (lo + k, hi)]
        return [*subproof(m - k, lo + k, hi, False), (lo, lo + k)]

    if old == 0 or old == new:
        return []
    return subproof(old, 0, new, True)


def complete_subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """(level, position) of the complete subtrees whose hashes make MTH(D[lo:hi])."""
    size = hi - lo
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return [(level, lo >> level)]
    k = split_point(size)
    return complete_subtrees(lo, lo + k) + complete_subtrees(lo + k, hi)


def stored_subtrees(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    keys = set(keys)
    leaves = [position for level, position in keys if level == 0]
    nodes = [(level, position) for level, position in keys if level > 0]
    found: dict[tuple[int, int], bytes] = {}
    if leaves:
        rows = Entry.objects.filter(index__in=leaves).values_list("index", "leaf_hash")
        for index, value in rows:
            found[(0, index)] = bytes(value)
    if nodes:
        rows = Node.objects.filter(pk__in=nodes).values_list("level", "position", "hash")
        for level, position, value in rows:
            found[(level, position)] = bytes(value)
    missing = keys - found.keys()
    if missing:
        raise LookupError(f"stored tree is missing subtrees {sorted(missing)[:5]}")
    return found


def range_hashes(ranges: list[Range]) -> list[bytes]:
    """MTH of each range, from one read of the stored subtrees they are made of."""
    stored = stored_subtrees(key for lo, hi in ranges for key in complete_subtrees(lo, hi))

    def mth(lo: int, hi: int) -> bytes:
        size = hi - lo
        if size & (size - 1) == 0:
            level = size.bit_length() - 1
            return stored[(level, lo >> level)]
        k = split_point(size)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return [mth(lo, hi) for lo, hi in ranges]


def inclusion_proof(index: int, size: int) -> list[bytes]:
    return range_hashes(inclusion_ranges(index, 0, size))


def consistency_proof(old: int, new: int) -> list[bytes]:
    return range_hashes(consistency_ranges(old, new))


def root(size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return range_hashes([(0, size)])[0]

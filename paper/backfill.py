"""Claiming the online acts an account made before it had an identity key."""

from __future__ import annotations

from django.db import connection

# ON CONFLICT DO NOTHING: a person counted on paper and online before their account had a
# key keeps the first act; the clash is counted and recorded in the key's audit entry.
_CLAIM_SIGNATURES_SQL = """
    INSERT INTO identity_countedact (scope, subject_id, key, channel, user_id, created_at)
    SELECT 'petition', s.petition_id, %(key)s, 'online', s.user_id, s.created_at
    FROM petitions_signature s WHERE s.user_id = %(user)s
    ON CONFLICT (scope, subject_id, key) DO NOTHING
"""
_CLAIM_BALLOTS_SQL = """
    INSERT INTO identity_countedact (scope, subject_id, key, channel, user_id, created_at)
    SELECT 'programme', b.programme_id, %(key)s, 'online', b.voter_id, b.created_at
    FROM initiatives_ballot b WHERE b.voter_id = %(user)s
    ON CONFLICT (scope, subject_id, key) DO NOTHING
"""
_ACTS_SQL = """
    SELECT (SELECT COUNT(*) FROM petitions_signature WHERE user_id = %(user)s)
         + (SELECT COUNT(*) FROM initiatives_ballot WHERE voter_id = %(user)s)
"""


def claim_online_acts(user_id: int, key: str) -> int:
    """Claim the account's signatures and ballots for its new key; returns the clashes
    (acts of this person already counted on paper)."""
    params = {"user": user_id, "key": key}
    with connection.cursor() as cursor:
        cursor.execute(_ACTS_SQL, params)
        acts = cursor.fetchone()[0]
        cursor.execute(_CLAIM_SIGNATURES_SQL, params)
        claimed = cursor.rowcount
        cursor.execute(_CLAIM_BALLOTS_SQL, params)
        claimed += cursor.rowcount
    return acts - claimed

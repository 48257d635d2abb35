"""The PostgreSQL (and SQLite) statements that sign a petition, kept apart from the services
that run them (petitions/services.py, `petition_sign`)."""

# One statement signs: the row is inserted only if the petition is collecting at this very
# moment, the signer has a verified e-mail (and an identity check where the city asks for one),
# and the person has not signed yet (the unique constraint, without a savepoint or exception).
# It reads the petition row but neither locks nor updates it. PostgreSQL and SQLite both run it.
SIGN_SQL = """
INSERT INTO petitions_signature (petition_id, user_id, created_at, notify_on_answer, public_name)
SELECT p.id, %(user)s, %(now)s, %(notify)s,
       (SELECT u.full_name FROM accounts_user u WHERE u.id = %(user)s)
FROM petitions_petition p
WHERE p.id = %(petition)s
  AND p.status IN ('collecting', 'reached')
  AND (p.collection_ends_at IS NULL OR p.collection_ends_at > %(now)s)
  AND (NOT p.require_identity OR EXISTS (
        SELECT 1 FROM accounts_user u
        WHERE u.id = %(user)s AND u.identity_verified_at IS NOT NULL))
  AND EXISTS (
        SELECT 1 FROM account_emailaddress e WHERE e.user_id = %(user)s AND e.verified)
  AND NOT EXISTS (
        SELECT 1 FROM identity_personkey k
        JOIN identity_countedact c ON c.key = k.key AND c.scope = 'petition'
        WHERE k.user_id = %(user)s AND c.subject_id = p.id AND c.channel = 'paper')
ON CONFLICT (petition_id, user_id) DO NOTHING
RETURNING id
"""

# On PostgreSQL the same statement makes the signer follow the petition (unless they turned
# auto-follow off), so signing stays one round trip; SQLite follows in a second statement.
SIGN_AND_FOLLOW_SQL = (
    "WITH signed AS ("  # noqa: S608 - constant text, parameters bound
    + SIGN_SQL.replace("RETURNING id", "RETURNING id, user_id, petition_id, created_at")
    + """), followed AS (
INSERT INTO notifications_follow (user_id, content_type_id, object_id, created_at)
SELECT s.user_id, ct.id, s.petition_id, s.created_at
FROM signed s JOIN django_content_type ct ON ct.app_label = 'petitions' AND ct.model = 'petition'
WHERE NOT EXISTS (
        SELECT 1 FROM notifications_notificationsettings n
        WHERE n.user_id = s.user_id AND NOT n.auto_follow)
ON CONFLICT (user_id, content_type_id, object_id) DO NOTHING
)
SELECT id FROM signed
"""
)

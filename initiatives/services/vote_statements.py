"""The SQL statements that record a vote. Kept apart from the rules in
`initiatives.services.voting`, which runs them and words a refusal from what they return.

VOTE_STATEMENT_SQL is PostgreSQL only (the hot path: one statement per vote); CAST_VOTE_SQL
and LOCK_BALLOT_SQL serve the one-transaction path on any database (the demo's SQLite)."""

# PostgreSQL, one statement in autocommit. It reads the initiative and its programme's rules
# (`target`), keeps them only if every rule that does not depend on the ballot passes
# (`eligible`: on the ballot, not the voter's own, voting stage today, residency, age, an
# active account), then
# creates or locks the voter's ballot (ON CONFLICT DO UPDATE locks it, so the same voter's
# statements run one after another; no ballot without a verified e-mail address) and inserts
# the vote at the next position if the ballot allows it. The counts come from the statement's
# snapshot: if the same voter's other vote committed meanwhile, the position collides with it
# and the unique constraint turns the insert into nothing (the caller retries with fresh
# data), so no race can pass a rule. The row returned carries what was read, so a refusal is
# worded without another query, and nothing is returned for an unknown initiative.
VOTE_STATEMENT_SQL = """
    WITH target AS (
        SELECT i.id, i.title, i.status, i.author_id, i.category_id, p.id AS programme_id,
               p.slug, p.city_id, p.max_votes, p.one_per_category, p.residents_only,
               p.min_voter_age, p.submission_opens, p.submission_closes, p.voting_opens,
               p.voting_closes, p.implementation_starts
        FROM initiatives_initiative i
        JOIN initiatives_programme p ON p.id = i.programme_id
        WHERE i.id = %(initiative)s AND (%(slug)s::text IS NULL OR p.slug = %(slug)s::text)
    ), eligible AS (
        SELECT * FROM target
        WHERE status IN (%(s1)s, %(s2)s, %(s3)s)
          AND author_id IS DISTINCT FROM %(voter)s
          AND %(today)s::date >= submission_opens AND %(today)s::date > submission_closes
          AND %(today)s::date >= voting_opens AND %(today)s::date <= voting_closes
          AND (NOT residents_only OR city_id = %(home_city)s::bigint)
          AND (min_voter_age = 0
               OR %(birth)s::date <= %(today)s::date - make_interval(years => min_voter_age))
          AND EXISTS (SELECT 1 FROM accounts_user u WHERE u.id = %(voter)s AND u.is_active)
    ), ballot AS (
        INSERT INTO initiatives_ballot (voter_id, programme_id, notify, created_at)
        SELECT %(voter)s, eligible.programme_id, %(notify)s, now() FROM eligible
        WHERE EXISTS (SELECT 1 FROM account_emailaddress e
                      WHERE e.user_id = %(voter)s AND e.verified)
        ON CONFLICT (voter_id, programme_id)
        DO UPDATE SET notify = initiatives_ballot.notify OR EXCLUDED.notify
        RETURNING id
    ), cast_votes AS (
        SELECT COUNT(v.id) AS n,
               COUNT(v.id) FILTER (WHERE v.initiative_id = %(initiative)s) AS same_project,
               COUNT(v.id) FILTER (WHERE v.category_id = eligible.category_id) AS same_category
        FROM eligible
        JOIN ballot ON true
        LEFT JOIN initiatives_vote v ON v.ballot_id = ballot.id
    ), inserted AS (
        INSERT INTO initiatives_vote (ballot_id, voter_id, programme_id, initiative_id,
                                      category_id, position, category_slot_id, created_at)
        SELECT ballot.id, %(voter)s, e.programme_id, e.id, e.category_id, cast_votes.n + 1,
               CASE WHEN e.one_per_category THEN e.category_id END, %(now)s
        FROM eligible e, ballot, cast_votes
        WHERE cast_votes.n < e.max_votes
          AND cast_votes.same_project = 0
          AND (NOT e.one_per_category OR cast_votes.same_category = 0)
        ON CONFLICT DO NOTHING
        RETURNING id, position
    )
    SELECT target.*, inserted.id, inserted.position, (SELECT id FROM ballot),
           cast_votes.n, cast_votes.same_project, cast_votes.same_category,
           EXISTS (SELECT 1 FROM eligible)
    FROM target
    LEFT JOIN cast_votes ON true
    LEFT JOIN inserted ON true
"""

TARGET_PROGRAMME_FIELDS = (
    "slug", "city_id", "max_votes", "one_per_category", "residents_only", "min_voter_age",
    "submission_opens", "submission_closes", "voting_opens", "voting_closes",
    "implementation_starts",
)  # fmt: skip


# The ballot row is locked by this transaction before this statement runs, so the counts
# below see every vote of this ballot that was ever committed (READ COMMITTED takes a fresh
# snapshot per statement; SQLite runs write transactions one at a time).
CAST_VOTE_SQL = """
    INSERT INTO initiatives_vote (ballot_id, voter_id, programme_id, initiative_id, category_id,
                                  position, category_slot_id, created_at)
    SELECT %(ballot)s, %(voter)s, %(programme)s, %(initiative)s, %(category)s,
           cast_votes.n + 1, %(slot)s, %(now)s
    FROM (SELECT COUNT(*) AS n FROM initiatives_vote WHERE ballot_id = %(ballot)s) cast_votes
    WHERE cast_votes.n < %(max_votes)s
      AND NOT EXISTS (SELECT 1 FROM initiatives_vote
                      WHERE ballot_id = %(ballot)s AND initiative_id = %(initiative)s)
      AND (CAST(%(slot)s AS BIGINT) IS NULL OR NOT EXISTS (SELECT 1 FROM initiatives_vote
                      WHERE ballot_id = %(ballot)s AND category_id = %(category)s))
    RETURNING id, position
"""


# One statement creates the ballot if needed and locks its row (ON CONFLICT DO UPDATE locks
# the existing row, like SELECT ... FOR UPDATE); it returns nothing when the voter has no
# verified e-mail address, so that check costs no extra round trip.
LOCK_BALLOT_SQL = """
    INSERT INTO initiatives_ballot (voter_id, programme_id, notify, created_at)
    SELECT %(voter)s, %(programme)s, %(notify)s, now()
    WHERE EXISTS (SELECT 1 FROM account_emailaddress e
                  WHERE e.user_id = %(voter)s AND e.verified)
    ON CONFLICT (voter_id, programme_id)
    DO UPDATE SET notify = initiatives_ballot.notify OR EXCLUDED.notify
    RETURNING id
"""

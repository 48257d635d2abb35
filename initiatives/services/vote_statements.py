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


# PostgreSQL: a confirmed ballot in one statement. It reads the programme's frozen rules
# (`rules`; none before the freeze, see initiatives.services.rules), the picked projects
# (`picked`, numbered 1..n), keeps the rules only if every pick and rule passes (`ok`: all
# picks on this programme's ballot and not the voter's own, 1..max_votes picks, distinct
# categories when the programme says so, voting stage today, residency, age, a verified
# e-mail address), then inserts the ballot with its receipt code and all its votes. An
# existing ballot is replaced (%(replace)s: only for programmes whose votes may change, and
# the caller has then locked the ballot and deleted its votes in the same transaction) or
# left alone, and nothing is inserted. The unique (ballot, position), (voter, initiative)
# and (voter, programme) constraints back every rule under races; the caller compares the
# votes inserted with the picks and rolls back on any difference.
CONFIRM_BALLOT_SQL = """
    WITH rules AS (
        SELECT p.id AS programme_id, p.city_id, p.submission_closes, p.voting_opens,
               p.voting_closes, f.max_votes, f.one_per_category, f.residents_only,
               f.min_voter_age
        FROM initiatives_programme p
        JOIN initiatives_frozenrules f ON f.programme_id = p.id
        WHERE p.id = %(programme)s
    ), picked AS (
        SELECT i.id, i.category_id, i.title,
               row_number() OVER (ORDER BY i.category_id, i.id) AS position
        FROM initiatives_initiative i
        WHERE i.id = ANY(%(ids)s::bigint[]) AND i.programme_id = %(programme)s
          AND i.status IN (%(s1)s, %(s2)s, %(s3)s)
          AND i.author_id IS DISTINCT FROM %(voter)s
    ), ok AS (
        SELECT rules.* FROM rules
        WHERE (SELECT COUNT(*) FROM picked) = cardinality(%(ids)s::bigint[])
          AND cardinality(%(ids)s::bigint[]) BETWEEN 1 AND rules.max_votes
          AND (NOT rules.one_per_category
               OR (SELECT COUNT(DISTINCT category_id) FROM picked)
                  = cardinality(%(ids)s::bigint[]))
          AND %(today)s::date > rules.submission_closes
          AND %(today)s::date BETWEEN rules.voting_opens AND rules.voting_closes
          AND (NOT rules.residents_only OR rules.city_id = %(home_city)s::bigint)
          AND (rules.min_voter_age = 0
               OR %(birth)s::date <= %(today)s::date - make_interval(years => rules.min_voter_age))
          AND EXISTS (SELECT 1 FROM account_emailaddress e
                      WHERE e.user_id = %(voter)s AND e.verified)
    ), ballot AS (
        INSERT INTO initiatives_ballot (voter_id, programme_id, notify, created_at,
                                        confirmed_at, code)
        SELECT %(voter)s, ok.programme_id, %(notify)s, %(now)s, %(now)s, %(code)s FROM ok
        ON CONFLICT (voter_id, programme_id) DO UPDATE
            SET confirmed_at = EXCLUDED.confirmed_at, code = EXCLUDED.code,
                notify = EXCLUDED.notify
            WHERE %(replace)s
        RETURNING id
    ), inserted AS (
        INSERT INTO initiatives_vote (ballot_id, voter_id, programme_id, initiative_id,
                                      category_id, position, category_slot_id, created_at)
        SELECT ballot.id, %(voter)s, ok.programme_id, picked.id, picked.category_id,
               picked.position, CASE WHEN ok.one_per_category THEN picked.category_id END,
               %(now)s
        FROM ballot, ok, picked
        ON CONFLICT DO NOTHING
        RETURNING initiative_id
    )
    SELECT EXISTS (SELECT 1 FROM rules), EXISTS (SELECT 1 FROM ok), (SELECT id FROM ballot),
           (SELECT COUNT(*) FROM inserted),
           ARRAY(SELECT title FROM picked ORDER BY position)
"""

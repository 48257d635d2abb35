"""Database triggers of the paper channel.

1. Online acts claim the person's CountedAct (opencity.identity) in the same statement: a row
   trigger on petitions_signature and on initiatives_ballot (a new ballot only: ON CONFLICT
   DO UPDATE fires no INSERT trigger). The signing and voting statements are unchanged and
   still one statement; a person already counted on paper makes them fail with the
   once-per-person constraint, which the services word as a refusal.
2. A paper line's counting and voiding leave a pending row for the public ledger in the same
   transaction: act paper.signature / paper.ballot (and *_void), the petition or programme as
   subject, no person (a paper signer has no account and no receipt).
"""

from django.db import migrations

from opencity.identity.services import install_claim_trigger, uninstall_claim_trigger

SIGNATURE_CLAIM = {
    "name": "petitions_signature_claim",
    "table": "petitions_signature",
    "scope": "'petition'",
    "subject": "petition_id",
    "user": "user_id",
    "at": "created_at",
}
BALLOT_CLAIM = {
    "name": "initiatives_ballot_claim",
    "table": "initiatives_ballot",
    "scope": "'programme'",
    "subject": "programme_id",
    "user": "voter_id",
    "at": "created_at",
}

_ACT = """CASE WHEN b.kind = 'signatures' THEN 'paper.signature' ELSE 'paper.ballot' END"""
_SUBJECT = """CASE WHEN b.kind = 'signatures' THEN 'petitions.petition/' || b.petition_id
                   ELSE 'initiatives.programme/' || b.programme_id END"""

POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION paper_line_to_ledger() RETURNS trigger AS $$
    BEGIN
      INSERT INTO ledger_pending (act, source_id, subject, person_id, acted_at)
      SELECT {_ACT}, n.id, {_SUBJECT}, NULL, n.counted_at
      FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN paper_batch b ON b.id = n.batch_id
      WHERE o.counted_at IS NULL AND n.counted_at IS NOT NULL
      ORDER BY n.id;
      INSERT INTO ledger_pending (act, source_id, subject, person_id, acted_at)
      SELECT {_ACT} || '_void', n.id, {_SUBJECT}, NULL, n.voided_at
      FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN paper_batch b ON b.id = n.batch_id
      WHERE o.voided_at IS NULL AND n.voided_at IS NOT NULL
      ORDER BY n.id;
      RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS paper_line_to_ledger ON paper_line",
    """
    CREATE TRIGGER paper_line_to_ledger AFTER UPDATE ON paper_line
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION paper_line_to_ledger()
    """,
]
SQLITE = [
    "DROP TRIGGER IF EXISTS paper_line_counted_to_ledger",
    f"""
    CREATE TRIGGER paper_line_counted_to_ledger AFTER UPDATE OF counted_at ON paper_line
    WHEN OLD.counted_at IS NULL AND NEW.counted_at IS NOT NULL
    BEGIN
      INSERT INTO ledger_pending (act, source_id, subject, person_id, acted_at)
      SELECT {_ACT}, NEW.id, {_SUBJECT}, NULL, NEW.counted_at
      FROM paper_batch b WHERE b.id = NEW.batch_id;
    END
    """,
    "DROP TRIGGER IF EXISTS paper_line_voided_to_ledger",
    f"""
    CREATE TRIGGER paper_line_voided_to_ledger AFTER UPDATE OF voided_at ON paper_line
    WHEN OLD.voided_at IS NULL AND NEW.voided_at IS NOT NULL
    BEGIN
      INSERT INTO ledger_pending (act, source_id, subject, person_id, acted_at)
      SELECT {_ACT} || '_void', NEW.id, {_SUBJECT}, NULL, NEW.voided_at
      FROM paper_batch b WHERE b.id = NEW.batch_id;
    END
    """,
]


def ledger_forward(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in POSTGRESQL if vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement)


def ledger_backward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS paper_line_to_ledger ON paper_line")
        schema_editor.execute("DROP FUNCTION IF EXISTS paper_line_to_ledger()")
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS paper_line_counted_to_ledger")
        schema_editor.execute("DROP TRIGGER IF EXISTS paper_line_voided_to_ledger")


class Migration(migrations.Migration):
    dependencies = [
        ("paper", "0001_initial"),
        ("ledger", "0001_initial"),
        ("identity", "0001_initial"),
        ("petitions", "0005_paper_signature_count"),
    ]
    operations = [
        migrations.RunPython(
            install_claim_trigger(SIGNATURE_CLAIM), uninstall_claim_trigger(SIGNATURE_CLAIM)
        ),
        migrations.RunPython(
            install_claim_trigger(BALLOT_CLAIM), uninstall_claim_trigger(BALLOT_CLAIM)
        ),
        migrations.RunPython(ledger_forward, ledger_backward),
    ]

"""Keep `search_document` in step with title and text (PostgreSQL only) and index it with GIN.
SQLite (the demo) searches with LIKE. Carried over from the pre-rewrite 0002/0006."""

from django.db import migrations

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION petitions_search_document() RETURNS trigger AS $$
    BEGIN
      NEW.search_document := to_tsvector('simple'::regconfig, NEW.title || ' ' || NEW.text);
      RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS petitions_search_document ON petitions_petition",
    """
    CREATE TRIGGER petitions_search_document
    BEFORE INSERT OR UPDATE OF title, text ON petitions_petition
    FOR EACH ROW EXECUTE FUNCTION petitions_search_document()
    """,
    "UPDATE petitions_petition SET search_document = "
    "to_tsvector('simple'::regconfig, title || ' ' || text)",
    "CREATE INDEX IF NOT EXISTS petition_search_gin ON petitions_petition "
    "USING gin (search_document)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS petition_search_gin",
    "DROP TRIGGER IF EXISTS petitions_search_document ON petitions_petition",
    "DROP FUNCTION IF EXISTS petitions_search_document()",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("petitions", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]

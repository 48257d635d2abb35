"""Full-text search index (PostgreSQL only; SQLite, used by the demo, searches with LIKE)."""

from django.db import migrations

INDEX = "petition_fts"
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON petitions_petition USING gin "
    "(to_tsvector('simple'::regconfig, title || ' ' || text))"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("petitions", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]

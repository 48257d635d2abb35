"""The composite foreign keys of a vote (PostgreSQL; SQLite, the demo database, cannot add a
constraint to an existing table). Deferred to the commit, like Django's own keys. The vote's
single-column keys are declared with db_constraint=False in 0001: these replace them.
Carried over from the pre-rewrite 0005."""

from django.db import migrations

_COMPOSITE_KEYS = [
    (
        "vote_ballot_voter_programme_fk",
        "(ballot_id, voter_id, programme_id)",
        "initiatives_ballot (id, voter_id, programme_id)",
    ),
    (
        "vote_initiative_programme_category_fk",
        "(initiative_id, programme_id, category_id)",
        "initiatives_initiative (id, programme_id, category_id)",
    ),
]


def add_composite_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns, target in _COMPOSITE_KEYS:
        schema_editor.execute(
            f"ALTER TABLE initiatives_vote ADD CONSTRAINT {name} FOREIGN KEY {columns} "
            f"REFERENCES {target} DEFERRABLE INITIALLY DEFERRED"
        )


def drop_composite_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _columns, _target in _COMPOSITE_KEYS:
        schema_editor.execute(f"ALTER TABLE initiatives_vote DROP CONSTRAINT {name}")


class Migration(migrations.Migration):
    dependencies = [("initiatives", "0001_initial")]
    operations = [migrations.RunPython(add_composite_keys, drop_composite_keys)]

"""Every audit entry leaves a pending ledger row in its own transaction (a trigger, so no
service has to remember it); the sequencer logs the decisions services registered as public
and drops the rest. PostgreSQL uses a statement trigger with a transition table (one INSERT
per statement, however many rows); SQLite (the demo) a row trigger.
"""

from django.db import migrations

from opencity.ledger.triggers import install, uninstall

TRIGGER = {
    "name": "ledger_audit_entry",
    "table": "core_auditentry",
    "act": "'audit'",
    "source_id": "id",
    "subject": "''",
    "person_id": "NULL",
    "acted_at": "created_at",
}


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial"), ("core", "0001_initial")]
    operations = [migrations.RunPython(install(TRIGGER), uninstall(TRIGGER))]

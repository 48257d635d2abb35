"""Audit action names follow one pattern, `app.object.verb`: rename the rows written before.

Depends on the core's initial migration only (the rows are plain strings); reversible.
"""

from django.db import migrations

RENAMED = {
    # petitions
    "petition.submit": "petitions.petition.submitted",
    "petition.withdraw": "petitions.petition.withdrawn",
    "petition.publish": "petitions.petition.published",
    "petition.reject": "petitions.petition.rejected",
    "petition.respond": "petitions.petition.answered",
    "petition.reached": "petitions.petition.reached",
    "petition.close": "petitions.petition.closed",
    "petition.moderation_overdue": "petitions.petition.moderation_overdue",
    "petition.response_overdue": "petitions.petition.response_overdue",
    # initiatives
    "initiative_submitted": "initiatives.initiative.submitted",
    "initiative_resubmitted": "initiatives.initiative.resubmitted",
    "initiative_withdrawn": "initiatives.initiative.withdrawn",
    "initiative_accepted": "initiatives.initiative.accepted",
    "initiative_revision_requested": "initiatives.initiative.revision_requested",
    "initiative_rejected": "initiatives.initiative.rejected",
    "implementation_update": "initiatives.initiative.implementation_updated",
    "stage_extended": "initiatives.programme.stage_extended",
    "stage_changed": "initiatives.programme.stage_changed",
    "tally_requested": "initiatives.programme.tally_requested",
    "programme_created": "initiatives.programme.created",
    "programme_changed": "initiatives.programme.changed",
    "programme_parts_changed": "initiatives.programme.parts_changed",
    "tally_recorded": "initiatives.snapshot.recorded",
    "results_published": "initiatives.snapshot.published",
    # members
    "staff_role.assign": "cities.staff_role.assigned",
    "staff_role.revoke": "cities.staff_role.revoked",
    "application.submit": "members.application.submitted",
    "application.resubmit": "members.application.resubmitted",
    "application.request_info": "members.application.info_requested",
    "application.recommend": "members.application.recommended",
    "application.decline": "members.application.declined",
    "application.accept": "members.application.accepted",
    "membership.change": "members.membership.changed",
    "invoice.issue": "members.invoice.issued",
    "payment.record": "members.payment.recorded",
    # academy
    "academy.register": "academy.registration.registered",
    "academy.cancel": "academy.registration.cancelled",
    "academy.promote": "academy.registration.promoted",
    "academy.attendance": "academy.registration.attendance_marked",
    "academy.session.cancel": "academy.session.cancelled",
    "academy.certificate.issue": "academy.certificate.issued",
    "academy.certificate.restore": "academy.certificate.restored",
    "academy.certificate.revoke": "academy.certificate.revoked",
    "academy.expert.update": "academy.expert.updated",
}


def _rename(apps, mapping):
    AuditEntry = apps.get_model("core", "AuditEntry")
    for old, new in mapping.items():
        AuditEntry.objects.filter(action=old).update(action=new)


def forwards(apps, schema_editor):
    _rename(apps, RENAMED)


def backwards(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]

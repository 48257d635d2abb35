"""Project photos: the author adds them with the proposal (or its revision); a Celery task
publishes metadata-free versions; staff hide an abusive one (kept for audit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from initiatives import photos
from initiatives.models import Initiative, InitiativePhoto
from opencity import images
from opencity.accounts.models import User
from opencity.cities import access
from opencity.core import Refused
from opencity.core.services import audit
from opencity.queue import enqueue_on_commit


def photos_add(*, initiative: Initiative, uploads: Sequence[UploadedFile]) -> list[InitiativePhoto]:
    """Keep the originals privately and queue their public versions (on commit). Call inside
    the proposal's transaction, after the form checked each upload (`images.check_upload`).
    Refused when the initiative would have more than `photos.MAX_PHOTOS` photos."""
    from initiatives.tasks import process_photo

    if not uploads:
        return []
    if initiative.photos.count() + len(uploads) > photos.MAX_PHOTOS:
        raise Refused(
            _("A project has at most %(n)d photos.") % {"n": photos.MAX_PHOTOS},
            code="too_many_photos",
            field="photos",
        )
    added = []
    for upload in uploads:
        photo = InitiativePhoto(initiative=initiative)
        images.store_original(photo, upload)
        photo.save()
        enqueue_on_commit(process_photo, photo.pk)
        added.append(photo)
    return added


def photo_process(photo_id: int) -> bool:
    """Make the metadata-free public image and thumbnail (JPEG) of one photo. Idempotent."""
    return images.process_photo(InitiativePhoto, photo_id, photos.limits())


def pending_photo_ids(older_than: timedelta = timedelta(minutes=5)) -> list[int]:
    return images.pending_photo_ids(InitiativePhoto, older_than)


def photo_hide(*, photo: InitiativePhoto, actor: User, reason: str, hidden: bool = True) -> None:
    """Hide (or show again) one photo; the files are kept. Staff of the programme's city only;
    audited with the reason."""
    programme = photo.initiative.programme
    if not access.can_act_on_city(actor, programme.city_id):
        raise Refused(_("Only the city's staff may do this."), code="not_staff")
    if not reason.strip():
        raise Refused(_("Give the reason."), code="reason_required", field="reason")
    with transaction.atomic():
        InitiativePhoto.objects.filter(pk=photo.pk).update(hidden=hidden)
        photo.hidden = hidden
        audit(
            obj=photo.initiative,
            action="initiatives.photo.hidden" if hidden else "initiatives.photo.shown",
            actor=actor,
            city=programme.city_id,
            reason=reason.strip(),
            data={"photo": photo.pk},
        )

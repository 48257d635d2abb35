from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from members.models import MembershipEvent

register = template.Library()

_BADGE_CLASS = {
    MembershipEvent.Status.MEMBER: "badge-ok",
    MembershipEvent.Status.CANDIDATE: "badge-warn",
    MembershipEvent.Status.SUSPENDED: "badge-error",
}


@register.simple_tag
def membership_badge(status):
    if not status:
        return format_html('<span class="badge">{}</span>', _("not a member"))
    label = MembershipEvent.Status(status).label
    return format_html('<span class="badge {}">{}</span>', _BADGE_CLASS.get(status, ""), label)

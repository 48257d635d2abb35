from django import template

from opencity.notifications import services

register = template.Library()


@register.inclusion_tag("notifications/_follow_button.html", takes_context=True)
def follow_button(context: template.Context, obj, following=None) -> dict:
    """A Follow / Unfollow button for a followable object (signed-in people only)."""
    request = context.get("request")
    # The context's user, not the request's: a cached page is rendered once as an anonymous
    # visitor sees it (opencity/pagecache.py), whoever asked first.
    user = context.get("user")
    return {
        "obj": obj,
        "model": f"{obj._meta.app_label}.{obj._meta.model_name}",
        "signed_in": bool(user and user.is_authenticated),
        # `following`: what the view already read (following_sql); else looked up here.
        "following": bool(following) if following is not None else services.is_following(user, obj),
        "next": request.get_full_path() if request else "",
    }

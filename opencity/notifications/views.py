"""The person's notification settings, follows, unsubscribe, data export and deletion."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from opencity import ratelimit
from opencity.notifications import data, registry, services
from opencity.notifications.forms import DeleteAccountForm, SettingsForm, mail_kind_label
from opencity.notifications.models import Follow


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = SettingsForm(
        request.POST or None,
        paces=services.paces_for(user),
        auto_follow=services.auto_follows(user),
        stopped=services.stopped_mail_kinds(user),
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            services.set_auto_follow(user, form.cleaned_data["auto_follow"])
            for kind, pace in form.paces().items():
                services.set_pace(user, kind, pace)
            services.resume(user, form.cleaned_data.get("resume") or [])
        messages.success(request, _("Your notification settings are saved."))
        return redirect("notifications:settings")
    return render(
        request, "notifications/settings.html", {"form": form, "followed": _followed(user)}
    )


def _followed(user, limit: int = 200) -> list[dict]:
    """What the person follows: the follows made here, and those a service keeps in its own
    list (a problem report one filed or supported), each once."""
    follows = Follow.objects.filter(user=user).select_related("content_type").order_by("-pk")
    followed, seen = [], set()
    for item in follows[:limit]:
        model = item.content_type.model_class()
        obj = model._default_manager.filter(pk=item.object_id).first() if model else None
        if obj is None:  # the object is gone (a withdrawn draft): nothing to show
            continue
        label = _model_label(item.content_type)
        seen.add((label, obj.pk))
        followed.append({"object": obj, "model": label, "pk": obj.pk})
    for spec in registry.followables():
        if spec.followed is None:
            continue
        for obj in spec.followed(user)[:limit]:
            label = spec.model.lower()
            if (label, obj.pk) not in seen:
                seen.add((label, obj.pk))
                followed.append({"object": obj, "model": label, "pk": obj.pk})
    return followed


def _model_label(ct: ContentType) -> str:
    return f"{ct.app_label}.{ct.model}"


@login_required
@require_POST
def follow_toggle(request: HttpRequest, model: str, pk: int) -> HttpResponse:
    """Follow or unfollow (`action`) an object the person may see; anything else is 404."""
    spec = registry.followable(model)
    if spec is None:
        raise Http404
    obj = spec.visible(request.user).filter(pk=pk).first()
    if obj is None:
        raise Http404
    if not ratelimit.allow_request("follow", request):
        return ratelimit.too_many(request)
    if request.POST.get("action") == "unfollow":
        services.unfollow(request.user, obj)
        messages.success(request, _("You no longer follow “%(title)s”.") % {"title": obj})
    else:
        services.follow(request.user, obj)
        messages.success(request, _("You follow “%(title)s”.") % {"title": obj})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else "/"
    return redirect(target)


@csrf_exempt  # RFC 8058: the mail client POSTs without a session or CSRF token
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (link scanners must not unsubscribe anyone); POST stops
    that kind of mail. The signed token is the only credential."""
    try:
        user, kind = services.read_unsubscribe_token(token)
    except signing.BadSignature:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    spec = registry.kind(kind)
    if spec is not None:
        label = spec.label
    elif kind.startswith(services.MAIL_KIND_PREFIX):
        label = mail_kind_label(kind)
    else:
        label = _("digest e-mails")
    if request.method == "POST":
        services.unsubscribe(user, kind)
        return render(request, "notifications/unsubscribed.html", {"label": label})
    return render(request, "notifications/unsubscribe.html", {"label": label, "token": token})


@login_required
def data_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not ratelimit.allow_request("data_export", request):
            return ratelimit.too_many(request)
        data.request_export(request.user)
        messages.success(
            request, _("We are preparing your data. A link will arrive by e-mail shortly.")
        )
        return redirect("notifications:data")
    return render(request, "notifications/data.html", {"delete_form": DeleteAccountForm()})


@login_required
def export_download(request: HttpRequest, token: str) -> HttpResponse:
    export = data.export_for(token, request.user)
    if export is None:
        raise Http404
    if request.GET.get("format") == "json":
        response = JsonResponse(export.payload, json_dumps_params={"ensure_ascii": False})
        response["Content-Disposition"] = 'attachment; filename="opencity-my-data.json"'
        return response
    return render(request, "notifications/export.html", {"export": export, "data": export.payload})


@login_required
@require_POST
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST)
    if not form.is_valid():
        return render(request, "notifications/data.html", {"delete_form": form}, status=400)
    user = request.user
    logout(request)
    data.delete_account(user, remove_public_name=form.cleaned_data["remove_public_name"])
    messages.success(request, _("Your account is deleted."))
    return redirect("home")

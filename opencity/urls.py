from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from opencity import views
from opencity.opendata.api import build_api
from petitions import views as petitions_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("health/", views.health, name="health"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/", include("opencity.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("account/", include("opencity.notifications.urls")),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("petitions/", include("petitions.urls")),
    path("initiatives/", include("initiatives.urls")),
    path("academy/", include("academy.urls")),
    path("problems/", include("problems.urls")),
    path("open311/v2/", include("problems.open311.urls")),
    path("ledger/", include("opencity.ledger.urls")),
    # Open data: the public petitions list as JSON, at the address the open-data registry uses.
    path("api/petitions.json", petitions_views.export_json, name="api_petitions"),
    path("api/", build_api().urls),
    path("opendata/", include("opencity.opendata.urls")),
    path("", include("members.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler404 = "opencity.views.not_found"
handler500 = "opencity.views.server_error"

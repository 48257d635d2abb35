"""A second URLconf for tests/test_url_tag.py: the same name at another path, and one app
mounted twice (two instance namespaces of one application namespace)."""

from django.http import HttpResponse
from django.urls import include, path


def page(request):
    return HttpResponse()


mounted = ([path("page/", page, name="page")], "mounted")

urlpatterns = [
    path("elsewhere/profile/", page, name="profile"),
    path("echo/<str:text>/", page, name="echo"),
    path("a/", include(mounted, namespace="a")),
    path("b/", include(mounted, namespace="b")),
]

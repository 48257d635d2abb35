"""A second URLconf for tests/test_url_tag.py: the same name at another path."""

from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("elsewhere/profile/", lambda request: HttpResponse(), name="profile")]

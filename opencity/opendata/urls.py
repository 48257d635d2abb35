from django.urls import path

from opencity.opendata import views

app_name = "opendata"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:name>.csv", views.export_csv, name="csv"),
    path("<slug:name>.json", views.export_json, name="json"),
    path("feeds/<slug:name>.atom", views.atom, name="feed"),
]

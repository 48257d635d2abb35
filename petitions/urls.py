from django.urls import path

from petitions import views

app_name = "petitions"
urlpatterns = [
    path("", views.petition_list, name="list"),
    path("city/<slug:city_slug>/", views.petition_list, name="city"),
    path("new/", views.petition_file, name="file"),
    path("mine/", views.my_petitions, name="mine"),
    path("signed/", views.my_signatures, name="signed"),
    path("export.csv", views.export_csv, name="export_csv"),
    # Also served at /api/petitions.json once the project's urls route it (see README).
    path("export.json", views.export_json, name="export_json"),
    path("<int:pk>/", views.petition_detail, name="detail"),
    path("<int:pk>/count.json", views.petition_count, name="count"),
    path("<int:pk>/sign/", views.petition_sign, name="sign"),
    path("<int:pk>/submit/", views.petition_submit, name="submit"),
    path("<int:pk>/withdraw/", views.petition_withdraw, name="withdraw"),
    path("<int:pk>/signatories.csv", views.signatories_csv, name="signatories_csv"),
]

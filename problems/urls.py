from django.urls import path

from problems import views

app_name = "problems"
urlpatterns = [
    path("", views.report_list, name="list"),
    path("city/<slug:city_slug>/", views.report_list, name="city"),
    path("city/<slug:city_slug>/new/", views.file_report, name="file"),
    path("new/", views.file_start, name="file_start"),
    path("mine/", views.my_reports, name="mine"),
    path("map.json", views.map_json, name="map_json"),
    path("nearby.json", views.nearby_json, name="nearby_json"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("export.geojson", views.export_geojson, name="export_geojson"),
    path("<int:pk>/", views.report_detail, name="detail"),
    path("<int:pk>/me-too/", views.support, name="support"),
    path("<int:pk>/follow/", views.follow, name="follow"),
    path("<int:pk>/fixed/", views.fixed_answer, name="fixed"),
    path("photos/<int:pk>/original/", views.photo_original, name="photo_original"),
]

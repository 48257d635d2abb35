from django.urls import path

from members import views
from members.surveys import views as surveys

app_name = "members"
urlpatterns = [
    path("cities/", views.city_list, name="city_list"),
    path("cities/join/", views.application_new, name="application_new"),
    path("cities/applications/", views.application_mine, name="application_mine"),
    path("cities/applications/<int:pk>/", views.application_detail, name="application_detail"),
    path(
        "cities/applications/<int:pk>/decision.pdf",
        views.application_file,
        name="application_file",
    ),
    path("cities/e-services/", views.product_list, name="product_list"),
    path("cities/e-services/<slug:slug>/", views.product_detail, name="product_detail"),
    path("cities/<slug:slug>/", views.city_detail, name="city_detail"),
    path("surveys/<str:token>/", surveys.fill, name="survey_fill"),
    path("reports/surveys/", surveys.results_index, name="survey_index"),
    path("reports/surveys/<int:pk>/", surveys.results_wave, name="survey_results"),
    path(
        "reports/surveys/<int:pk>/export.<str:fmt>",
        surveys.results_wave,
        name="survey_results_export",
    ),
    path(
        "reports/surveys/<int:pk>/compare/<int:other>/",
        surveys.results_compare,
        name="survey_compare",
    ),
    path(
        "reports/surveys/<int:pk>/compare/<int:other>/export.<str:fmt>",
        surveys.results_compare,
        name="survey_compare_export",
    ),
    path("reports/", views.report_index, name="report_index"),
    path("reports/<slug:slug>/", views.report_detail, name="report"),
    path("reports/<slug:slug>/export.<str:fmt>", views.report_export, name="report_export"),
]

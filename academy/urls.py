from django.urls import path

from academy import views

app_name = "academy"
urlpatterns = [
    path("", views.index, name="index"),
    path("calendar.ics", views.calendar_feed, name="calendar_feed"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/session.ics", views.session_ics, name="session_ics"),
    path("sessions/<int:pk>/register/", views.register, name="register"),
    path("sessions/<int:pk>/roster/", views.session_roster, name="session_roster"),
    path("registrations/", views.my_registrations, name="my"),
    path("registrations/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("registrations/<int:pk>/feedback/", views.feedback, name="feedback"),
    path("certificates/", views.certificate_lookup, name="certificate_lookup"),
    path("certificates/<str:code>/", views.certificate_check, name="certificate_check"),
    path("certificates/<str:code>/pdf/", views.certificate_download, name="certificate_pdf"),
    path("experts/", views.expert_list, name="expert_list"),
    path("experts/<slug:slug>/", views.expert_detail, name="expert_detail"),
    path("experts/<slug:slug>/edit/", views.expert_edit, name="expert_edit"),
]

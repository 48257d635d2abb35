from django.urls import path

from opencity.notifications import views

app_name = "notifications"
urlpatterns = [
    path("notifications/", views.settings_page, name="settings"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("follow/<str:model>/<int:pk>/", views.follow_toggle, name="follow"),
    path("data/", views.data_page, name="data"),
    path("data/export/<str:token>/", views.export_download, name="export"),
    path("data/delete/", views.delete_account, name="delete"),
]

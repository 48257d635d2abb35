from django.urls import path
from django.views.generic import TemplateView

app_name = "academy"
# The section's pages arrive with its issue; until then the index says what is coming.
urlpatterns = [
    path("", TemplateView.as_view(template_name="section_pending.html"), name="index"),
]

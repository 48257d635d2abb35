from django.urls import path

from opencity.ledger import views

app_name = "ledger"

urlpatterns = [
    path("", views.about, name="about"),
    path("checkpoint", views.checkpoint, name="checkpoint"),
    path("checkpoints/<int:size>", views.archived_checkpoint, name="archived_checkpoint"),
    path("key", views.verifier_key, name="key"),
    path("verify.py", views.verifier_script, name="verifier_script"),
    path("proof/inclusion", views.inclusion, name="inclusion"),
    path("proof/consistency", views.consistency, name="consistency"),
    path("leaves", views.leaves, name="leaves"),
    path("receipt/<str:code>", views.receipt, name="receipt"),
    path("check/<str:code>", views.check, name="check"),
    path("receipts/", views.my_receipts, name="my_receipts"),
]

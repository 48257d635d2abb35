from django.urls import path

from initiatives import views

app_name = "initiatives"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.programme_detail, name="programme"),
    path("<slug:slug>/submit/", views.initiative_submit, name="submit"),
    path("<slug:slug>/ballot/", views.ballot, name="ballot"),
    path("<slug:slug>/ballot/review/", views.ballot_review, name="ballot_review"),
    path("<slug:slug>/ballot/confirm/", views.ballot_confirm, name="ballot_confirm"),
    path("<slug:slug>/ballot/receipt/", views.receipt, name="receipt"),
    path("<slug:slug>/ballot/notify/", views.ballot_notify, name="ballot_notify"),
    path("<slug:slug>/results/", views.results, name="results"),
    path("<slug:slug>/results.csv", views.results_csv, name="results_csv"),
    path("<slug:slug>/results.json", views.results_json, name="results_json"),
    path("<slug:slug>/<int:pk>/", views.initiative_detail, name="detail"),
    path("<slug:slug>/<int:pk>/revise/", views.initiative_revise, name="revise"),
    path("<slug:slug>/<int:pk>/withdraw/", views.initiative_withdraw, name="withdraw"),
]

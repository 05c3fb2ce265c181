from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

app_name = "desk"

urlpatterns = [
    path("", views.queue_page, name="queue"),
    path("login/", views.DeskLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="desk:login"), name="logout"),
    path("bulk/", views.bulk_action, name="bulk"),
    path("requests/<uuid:request_id>/", views.request_page, name="request"),
    path("requests/<uuid:request_id>/progress/", views.progress_fragment, name="progress"),
    path("requests/<uuid:request_id>/certificate/", views.certificate, name="certificate"),
    path("requests/<uuid:request_id>/<slug:action>/", views.request_action, name="request-action"),
    path("jobs/<uuid:job_id>/<slug:action>/", views.job_action, name="job-action"),
]

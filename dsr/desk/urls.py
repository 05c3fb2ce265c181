from django.contrib.auth.views import LogoutView
from django.urls import path

from dsr.desk import audit_views, login, person_views, report_views, views
from dsr.web import converters  # noqa: F401 - registers the <request:…> converter

app_name = "desk"

urlpatterns = [
    path("", views.queue_page, name="queue"),
    path("login/", login.DeskLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="desk:login"), name="logout"),
    path("bulk/", views.bulk_action, name="bulk"),
    path("reports/", report_views.dashboard, name="reports"),
    path("reports/ccpa/", report_views.ccpa_metrics, name="ccpa-metrics"),
    path("reports/ccpa.csv", report_views.ccpa_metrics_csv, name="ccpa-metrics-csv"),
    path("reports/requests.csv", report_views.request_records_csv, name="request-records-csv"),
    path("audit/", audit_views.audit_page, name="audit"),
    path("people/<str:key>/", person_views.person_page, name="person"),
    path("requests/<request:request_id>/", views.request_page, name="request"),
    path("requests/<request:request_id>/progress/", views.progress_fragment, name="progress"),
    path("requests/<request:request_id>/certificate/", views.certificate, name="certificate"),
    path("requests/<request:request_id>/<slug:action>/", views.request_action, name="request-action"),
    path("jobs/<uuid:job_id>/<slug:action>/", views.job_action, name="job-action"),
]

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dsr.api import systems
from dsr.api import views as api
from dsr.desk import api as desk_api
from dsr.desk import api_reads as desk_reads
from dsr.intake import views
from dsr.web import (
    assets,
    converters,  # noqa: F401 - registers the <request:…> converter
)

app_name = "dsr"

public = [
    path("", views.request_form, name="request-form"),
    path("requests/<str:reference>/", views.status, name="status"),
    path("requests/<str:reference>/open/<str:token>/", views.open_status, name="status-open"),
    path("requests/<str:reference>/verify/", views.verify, name="verify"),
    path("requests/<str:reference>/verify/<str:token>/", views.verify_link, name="verify-link"),
    path("requests/<str:reference>/resend/", views.resend, name="resend"),
    path("requests/<str:reference>/download/code/", views.download_code, name="download-code"),
    path("requests/<str:reference>/download/", views.download, name="download"),
    path("requests/<str:reference>/cancel/", views.cancel, name="cancel"),
]

api_v1 = [
    path("requests/", api.RequestCreateView.as_view(), name="api-request-create"),
    path("requests/<str:reference>/", api.RequestStatusView.as_view(), name="api-request-status"),
    path(
        "requests/<str:reference>/verify/", api.RequestVerifyView.as_view(), name="api-request-verify"
    ),
    path(
        "requests/<str:reference>/resend/", api.RequestResendView.as_view(), name="api-request-resend"
    ),
    path("systems/jobs/", systems.SystemJobsView.as_view(), name="api-system-jobs"),
    path("systems/jobs/<uuid:job_id>/claim/", systems.SystemJobClaimView.as_view(), name="api-job-claim"),
    path("systems/jobs/<uuid:job_id>/result/", systems.SystemJobResultView.as_view(), name="api-job-result"),
    path("systems/suppression/check", systems.SuppressionCheckView.as_view(), name="api-suppression-check"),
    path("requests/<str:reference>/download/code/", api.DownloadCodeView.as_view(), name="api-download-code"),
    path("requests/<str:reference>/download/", api.DownloadView.as_view(), name="api-download"),
    path("desk/requests/", desk_api.QueueView.as_view(), name="api-desk-queue"),
    path("desk/people/", desk_reads.PeopleView.as_view(), name="api-desk-people"),
    path("desk/requests/<request:request_id>/", desk_api.RequestView.as_view(), name="api-desk-request"),
    path("desk/requests/<request:request_id>/audit/", desk_reads.AuditView.as_view(), name="api-desk-audit"),
    path("desk/requests/<request:request_id>/emails/", desk_reads.EmailsView.as_view(), name="api-desk-emails"),
    path("desk/requests/<request:request_id>/message/", desk_api.MessageView.as_view(), name="api-desk-message"),
    path("desk/requests/<request:request_id>/<slug:action>/", desk_api.RequestActionView.as_view(),
         name="api-desk-request-action"),
    path("desk/jobs/<uuid:job_id>/<slug:action>/", desk_api.JobActionView.as_view(), name="api-desk-job-action"),
    path("desk/bulk/<slug:action>/", desk_api.BulkView.as_view(), name="api-desk-bulk"),
]

# Swagger UI under the Content-Security-Policy: the split view serves its start-up script as
# a file of its own (no inline script), and its stylesheet draws icons as data: images.
api_docs = csp_update({"img-src": ["'self'", "data:"]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))

urlpatterns = [
    path("brand.css", assets.brand_css, name="brand-css"),
    path("favicon.ico", assets.favicon, name="favicon"),
    path("", include((public + [path("api/v1/", include(api_v1))], "dsr"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("desk/", include("dsr.desk.urls")),
    path("admin/", admin.site.urls),
    # The language switcher posts here (Django's set_language: a cookie, then back to the page).
    path("i18n/", include("django.conf.urls.i18n")),
]

if settings.DSR_DEMO:
    from dsr.demo_shop import mailchimp
    from dsr.demo_shop.views import marketing_webhook, privacy_notice

    urlpatterns += [
        path("demo/marketing-webhook/", marketing_webhook, name="demo-marketing-webhook"),
        path("demo/privacy-notice/", privacy_notice, name="demo-privacy-notice"),
        path("demo/mailchimp/3.0/", include(mailchimp.urlpatterns)),
    ]

handler404 = "dsr.web.error_pages.not_found"
handler500 = "dsr.web.error_pages.server_error"

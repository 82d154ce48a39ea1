from django.urls import path

from operations import views

app_name = "operations"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("failures/", views.failures, name="failures"),
    path("activity/", views.activity, name="activity"),
    path("activity/export/", views.audit_export, name="audit-export"),
    path("activity/export/<str:month>/", views.audit_download, name="audit-download"),
    path("usage/", views.usage, name="usage"),
    path("staff-actions/", views.staff_actions, name="staff-actions"),
    path("settings/", views.site_settings_page, name="settings"),
]

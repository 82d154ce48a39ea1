from django.urls import path

import core.converters  # noqa: F401  (registers the "id" converter)
from sharing import api

urlpatterns = [
    path("documents/<id:pk>/shares/", api.DocumentSharesView.as_view(), name="document-shares"),
    path(
        "documents/<id:pk>/activity/", api.DocumentActivityView.as_view(), name="document-activity"
    ),
    path("shares/<id:pk>/", api.ShareDetailView.as_view(), name="share-detail"),
    path(
        "documents/<id:pk>/invitations/",
        api.DocumentInvitationsView.as_view(),
        name="document-invitations",
    ),
    path("invitations/<id:pk>/", api.InvitationDetailView.as_view(), name="invitation-detail"),
    path("shared-with-me/", api.SharedWithMeView.as_view(), name="shared-with-me"),
]

from django.urls import path

import core.converters  # noqa: F401  (registers the "id" converter)
from speech_processing import api

urlpatterns = [
    path("voices/", api.VoiceListView.as_view(), name="voice-list"),
    path("voices/<str:voice_id>/sample/", api.VoiceSampleView.as_view(), name="voice-sample"),
    path("pages/<id:pk>/audios/", api.PageAudiosView.as_view(), name="page-audios"),
    path("audios/<id:pk>/", api.AudioDetailView.as_view(), name="audio-detail"),
    path("audios/<id:pk>/download/", api.AudioDownloadView.as_view(), name="audio-download"),
    path("audios/<id:pk>/played/", api.AudioPlayedView.as_view(), name="audio-played"),
    path("audios/<id:pk>/retry/", api.AudioRetryView.as_view(), name="audio-retry"),
    path("audios/<id:pk>/timings/", api.AudioTimingsView.as_view(), name="audio-timings"),
    path("audios/<id:pk>/stream/", api.AudioStreamView.as_view(), name="audio-stream"),
    path("audios/<id:pk>/parts/", api.AudioPartsView.as_view(), name="audio-parts"),
    path(
        "audios/<id:pk>/parts/follow/",
        api.AudioPartsFollowView.as_view(),
        name="audio-parts-follow",
    ),
    path(
        "audios/<id:pk>/parts/<int:attempt>/<int:number>.mp3",
        api.AudioPartView.as_view(),
        name="audio-part",
    ),
    path(
        "documents/<id:pk>/progress/", api.DocumentProgressView.as_view(), name="document-progress"
    ),
    path(
        "documents/<id:pk>/playlist/", api.DocumentPlaylistView.as_view(), name="document-playlist"
    ),
    path("documents/<id:pk>/audios/", api.DocumentAudiosView.as_view(), name="document-audios"),
    path(
        "documents/<id:pk>/audio-progress/",
        api.DocumentAudioProgressView.as_view(),
        name="document-audio-progress",
    ),
    path(
        "documents/<id:pk>/audiobook/",
        api.DocumentAudiobookView.as_view(),
        name="document-audiobook",
    ),
    path("audiobooks/<id:pk>/", api.AudiobookDetailView.as_view(), name="audiobook-detail"),
    path(
        "audiobooks/<id:pk>/download/",
        api.AudiobookDownloadView.as_view(),
        name="audiobook-download",
    ),
]

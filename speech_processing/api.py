"""Voices and audio endpoints of API.md. Each view validates, calls one service, serialises."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, UserRateThrottle
from rest_framework.views import APIView

from core.storage_errors import unless_out_of_space
from core.throttles import RetryThrottle
from document_processing.selectors import page_detail
from sharing.audit import audited, client_info
from sharing.models import AccessLog
from sharing.policy import Action, get_document, require
from speech_processing import (
    audio_progress,
    audiobooks,
    live,
    playlist,
    progress,
    samples,
    selectors,
    services,
    timings,
    voices,
)
from speech_processing.models import Audio, ListeningProgress
from speech_processing.serializers import (
    AudiobookRequestSerializer,
    AudiobookSerializer,
    AudioProgressQuerySerializer,
    AudioProgressSerializer,
    AudioSerializer,
    DocumentAudiosRequestSerializer,
    DocumentAudiosSerializer,
    GeneratedAudioSerializer,
    GenerateSerializer,
    PageAudiosSerializer,
    PartsManifestSerializer,
    PartsQuerySerializer,
    PlayedSerializer,
    PlaylistQuerySerializer,
    PlaylistSerializer,
    ProgressFormSerializer,
    ProgressSerializer,
    ProgressUpdateSerializer,
    TimingSerializer,
    VoiceSerializer,
    audio_representation,
    playlist_representation,
    progress_representation,
)
from speech_processing.streaming import attachment_disposition, ranged_file_response
from users.auth import current_user
from users.models import User


class GenerateThrottle(UserRateThrottle):
    scope = "generate"


class VoiceListView(APIView):
    @extend_schema(responses={200: VoiceSerializer(many=True)}, tags=["voices"])
    def get(self, request: Request) -> Response:
        data = [
            {
                "id": voice.id,
                "engine": voice.engine,
                "name": voice.name,
                "language": voice.language,
                "gender": voice.gender,
                "display_name": voices.display_name(voice),
                "sample_url": reverse("voice-sample", kwargs={"voice_id": voice.id}),
            }
            for voice in voices.all_voices()
        ]
        return Response(VoiceSerializer(data, many=True).data)  # type: ignore[arg-type]


class VoiceSampleView(APIView):
    @extend_schema(
        responses={(200, "audio/mpeg"): OpenApiTypes.BINARY},
        tags=["voices"],
        description="A short preview of the voice, made by a worker on first request (the "
        "request waits a few seconds for it). 503 service_unavailable, with Retry-After, while "
        "it is not made yet.",
    )
    def get(self, request: Request, voice_id: str) -> HttpResponse | StreamingHttpResponse:
        voice = voices.resolve_voice(voice_id)
        key = samples.sample_key(voice=voice)
        return ranged_file_response(
            request._request, storage=default_storage, key=key,
            content_type="audio/mpeg", filename=f"{voice.name}-sample.mp3",
        )  # fmt: skip


class PageAudiosView(APIView):
    def get_throttles(self) -> list[BaseThrottle]:
        return [GenerateThrottle()] if self.request.method == "POST" else []

    @extend_schema(responses={200: PageAudiosSerializer}, tags=["audio"])
    def get(self, request: Request, pk: int) -> Response:
        page = page_detail(user=current_user(request), page_id=pk)
        body = {
            "audios": AudioSerializer(selectors.page_audios(page=page), many=True).data,
            "quota": services.quota_for(page=page),
        }
        return Response(body)

    @extend_schema(
        request=GenerateSerializer,
        responses={202: GeneratedAudioSerializer},
        tags=["audio"],
        description="Make the page's audio in a voice. 409 while an up-to-date audio of that "
        "voice exists or is being made. An outdated one (the page was edited after it was "
        "made) is replaced: it is removed, and the new audio takes no further quota slot. "
        "Without `voice`, the caller's preferred voice or the site's when it speaks the "
        "document's language, else an installed voice that does. `warnings` says when the "
        "voice does not speak the page's language; the audio is made all the same.",
    )
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        page = page_detail(user=user, page_id=pk)
        with audited(
            request._request, user=user, action=AccessLog.Action.GENERATE, document=page.document
        ) as entry:
            # Access first: a caller who may not generate learns nothing about voices or quota.
            require(user, Action.GENERATE_AUDIO, page.document)
            serializer = GenerateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            voice = voices.voice_for(
                user, serializer.validated_data.get("voice"), language=page.document.language
            )
            audio = services.create_audio_record(page=page, voice=voice, user=user)
            entry["audio_id"] = audio.pk
        warnings = voices.language_warnings(voice, language=page.language or page.document.language)
        data = GeneratedAudioSerializer(audio, context={"warnings": warnings}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


class AudioDetailView(APIView):
    @extend_schema(responses={200: AudioSerializer}, tags=["audio"])
    def get(self, request: Request, pk: int) -> Response:
        audio = selectors.audio_status(user=current_user(request), audio_id=pk)
        return Response(audio_representation(audio))

    @extend_schema(responses={204: None}, tags=["audio"])
    def delete(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        audio = selectors.audio_detail(user=user, audio_id=pk)
        with audited(
            request._request, user=user, action=AccessLog.Action.DELETE,
            document=audio.page.document, audio_id=audio.pk,
        ):  # fmt: skip
            services.delete_audio(user=user, audio=audio)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AudioDownloadView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "download", bool, required=False,
                description="`1`: save the file (Content-Disposition attachment). Without it a "
                "request of an audio or video element (`Sec-Fetch-Dest: audio`) plays inline; "
                "any other request is a download too.",
            )
        ],
        responses={
            (200, "audio/mpeg"): OpenApiTypes.BINARY,
            (206, "audio/mpeg"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="Redirect to a short-lived signed URL (S3)"),
        },
        tags=["audio"],
        description="The made audio's MP3, with Range support. A download is one "
        "\"download\" entry in the document's activity (its ranged continuations are not "
        "counted again); a player's requests are none: its play is reported by "
        "`POST /audios/{id}/played/`.",
    )  # fmt: skip
    def get(self, request: Request, pk: int) -> HttpResponse | StreamingHttpResponse:
        user = current_user(request)
        audio = selectors.audio_detail(user=user, audio_id=pk)
        return _download(request, user=user, audio=audio, listening=False)


# A listening session is one "play" in the audit log per half hour: the player saves its
# position every few seconds, and reopens the file at each seek.
PLAY_AUDIT_WINDOW = timedelta(minutes=30)
# What browsers send for the requests of <audio> and <video> elements (Fetch Metadata).
_MEDIA_DESTINATIONS = {"audio", "video"}
_FROM_START = re.compile(r"bytes=0*-[0-9]*")


def _from_start(request: Request) -> bool:
    """The request reads the file from its first byte: a new download or a new listen, not the
    continuation of one (a seek, a resumed download)."""
    requested = request.headers.get("Range", "").strip()
    return not requested or _FROM_START.fullmatch(requested) is not None


def _wants_download(request: Request) -> bool:
    """An explicit download: asked for with `?download=1`, or any request that is not an audio
    or video element's (a link with the download attribute, the command line, a script)."""
    if request.query_params.get("download", "").lower() in {"1", "true"}:
        return True
    return request.headers.get("Sec-Fetch-Dest", "") not in _MEDIA_DESTINATIONS


def _download(
    request: Request, *, user: User, audio: Audio, listening: bool
) -> HttpResponse | StreamingHttpResponse:
    """The stored file of a made audio, with Range support (or a signed URL on S3).

    `listening`: asked for through the audio's stream, which is a play. Otherwise an explicit
    download is one, and a player's requests (preloading, seeking) record nothing here.
    """
    downloading = not listening and _wants_download(request)
    from_start = _from_start(request)
    # Renewing retention and the audit line are writes beside a read: with the disk full they
    # are skipped (and logged), and the listener still gets the file.
    with unless_out_of_space(f"the download of audio {audio.pk}"):
        if from_start and (downloading or listening):
            with audited(
                request._request, user=user, document=audio.page.document, audio_id=audio.pk,
                action=AccessLog.Action.DOWNLOAD if downloading else AccessLog.Action.PLAY,
                once_within=None if downloading else PLAY_AUDIT_WINDOW,
            ):  # fmt: skip
                # A download counts as a play for retention.
                services.mark_played(user=user, audio=audio)
        elif from_start:
            # A player opening the file, perhaps only to preload it: retention, no audit line.
            services.mark_played(user=user, audio=audio)
        else:
            services.require_playable(user=user, audio=audio)
    filename = f"page-{audio.page.number}-{audio.voice.split(':')[-1]}.mp3"
    disposition = attachment_disposition(filename, fallback_stem="audio") if downloading else None
    if settings.STORAGE_BACKEND == "s3":
        if disposition:
            url = default_storage.url(  # type: ignore[call-arg]
                audio.file_key, parameters={"ResponseContentDisposition": disposition}
            )
            return HttpResponseRedirect(url)
        return HttpResponseRedirect(default_storage.url(audio.file_key))
    return ranged_file_response(
        request._request, storage=default_storage, key=audio.file_key,
        content_type="audio/mpeg", filename=filename, disposition=disposition,
    )  # fmt: skip


class AudioStreamView(APIView):
    @extend_schema(
        responses={
            (200, "audio/mpeg"): OpenApiTypes.BINARY,
            (206, "audio/mpeg"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="A made audio on S3: its short-lived signed URL"),
        },
        tags=["audio"],
        description="The audio's MP3 while it is being made: from its first sentence, as the "
        "rest is synthesised, then the stored file to the end (no length is known in advance, "
        "and no Range is served until it is made). A made audio is answered as its download. "
        "409 for an audio whose making failed; 503 with Retry-After when this server is "
        "already streaming as many audios as it may (the audio can be played once made).",
    )  # fmt: skip
    def get(self, request: Request, pk: int) -> HttpResponse | StreamingHttpResponse:
        user = current_user(request)
        audio = selectors.audio_detail(user=user, audio_id=pk)
        if audio.status == Audio.Status.COMPLETED:
            return _download(request, user=user, audio=audio, listening=True)
        with audited(
            request._request, user=user, action=AccessLog.Action.PLAY,
            document=audio.page.document, audio_id=audio.pk, once_within=PLAY_AUDIT_WINDOW,
        ):  # fmt: skip
            live.require_streamable(user=user, audio=audio)
        response = StreamingHttpResponse(live.held_stream(audio.pk), content_type="audio/mpeg")
        response["Cache-Control"] = "no-store"
        response["Accept-Ranges"] = "none"
        response["X-Accel-Buffering"] = "no"  # a proxy must pass each part on at once
        return response


class AudioPartsView(APIView):
    @extend_schema(
        parameters=[PartsQuerySerializer],
        responses=PartsManifestSerializer,
        tags=["audio"],
        description="Listening while the audio is made, part by part: the URLs of the MP3 "
        "parts stored so far (from `after` on), when to ask again, and, once the audio is made, "
        "where to read the rest of its file. The parts, in order, are the start of the made "
        "file byte for byte. A listener holds no connection between requests, and any number "
        "of listeners share the audio's one synthesis. 409 for an audio whose making failed.",
    )  # fmt: skip
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        audio = selectors.audio_to_follow(user=user, audio_id=pk)
        query = PartsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after = query.validated_data["after"]
        if after == 0 and audio.status != Audio.Status.COMPLETED:
            # A listener starting: one Played line per listening session.
            with audited(
                request._request, user=user, action=AccessLog.Action.PLAY,
                document=audio.page.document, audio_id=audio.pk, once_within=PLAY_AUDIT_WINDOW,
            ):  # fmt: skip
                live.require_streamable(user=user, audio=audio)
        else:
            live.require_streamable(user=user, audio=audio)
        return _manifest_response(
            live.LiveState.of(audio), after=after, token=live.follow_token(audio.pk)
        )


def _manifest_response(state: live.LiveState, *, after: int, token: str) -> Response:
    response = Response(
        PartsManifestSerializer(live.manifest(state, after=after, token=token)).data
    )
    response["Cache-Control"] = "no-store"  # it changes as parts are written
    return response


class AudioPartsFollowView(APIView):
    # The follow URL is its credential (given with the manifest, after the access check): no
    # session, and the audio's state as this process read it at most a moment ago.
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(
        parameters=[PartsQuerySerializer, OpenApiParameter("token", str, required=True)],
        responses=PartsManifestSerializer,
        tags=["audio"],
        description="The manifest again, by the `follow_url` the first one gave: the same "
        "answer, for a listener already let in. 404 with a token that is not this audio's.",
    )  # fmt: skip
    def get(self, request: Request, pk: int) -> Response:
        token = request.query_params.get("token", "")
        query = PartsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        state = live.followed_state(pk, token)
        return _manifest_response(state, after=query.validated_data["after"], token=token)


class AudioPartView(APIView):
    # The part's URL is its credential (signed for this audio and attempt, as an object
    # store's signed URL): no session, no database.
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(
        parameters=[OpenApiParameter("token", str, required=True)],
        responses={(200, "audio/mpeg"): OpenApiTypes.BINARY},
        tags=["audio"],
        description="One part of an audio being made, as listed by its manifest. 404 once the "
        "audio is made (its file has the part) or with a token that is not this part's.",
    )  # fmt: skip
    def get(self, request: Request, pk: int, attempt: int, number: int) -> HttpResponse:
        data = live.read_part(pk, attempt, number, request.query_params.get("token", ""))
        response = HttpResponse(data, content_type="audio/mpeg")
        # A part never changes: a listener who asks again (or a cache) keeps it.
        response["Cache-Control"] = "private, max-age=3600, immutable"
        return response


class AudioPlayedView(APIView):
    @extend_schema(request=PlayedSerializer, responses={204: None}, tags=["audio"])
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        audio = selectors.audio_detail(user=user, audio_id=pk)
        serializer = PlayedSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with audited(
            request._request, user=user, action=AccessLog.Action.PLAY,
            document=audio.page.document, audio_id=audio.pk, once_within=PLAY_AUDIT_WINDOW,
        ):  # fmt: skip
            services.mark_played(user=user, audio=audio, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AudioRetryView(APIView):
    throttle_classes = [RetryThrottle]

    @extend_schema(request=None, responses={202: AudioSerializer}, tags=["audio"])
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        audio = selectors.audio_detail(user=user, audio_id=pk)
        audio = services.retry_audio(user=user, audio=audio)
        return Response(AudioSerializer(audio).data, status=status.HTTP_202_ACCEPTED)


class WebVTTRenderer(BaseRenderer):
    """Chosen by `?format=vtt` (or `Accept: text/vtt`); the view hands it the finished file."""

    media_type = "text/vtt"
    format = "vtt"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return str(data).encode(self.charset)


class AudioTimingsView(APIView):
    renderer_classes = [JSONRenderer, WebVTTRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", str, enum=["json", "vtt"], required=False,
                description="`vtt` for a WebVTT file (text/vtt) with one cue per sentence.",
            )
        ],
        responses={
            (200, "application/json"): TimingSerializer(many=True),
            (200, "text/vtt"): OpenApiTypes.STR,
        },
        tags=["audio"],
        description="Sentence timings for reading along. Character offsets index the page's "
        "plain `text` as it was when the audio was made; while the audio is being made the list "
        "holds the sentences finished so far. Once the page has been edited the audio is "
        "`outdated` and the list is empty (an empty WebVTT file): the audio still plays, "
        "without highlighting, until it is regenerated.",
    )  # fmt: skip
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        audio = selectors.audio_detail(user=user, audio_id=pk)
        found = timings.audio_timings(user=user, audio=audio)
        if isinstance(request.accepted_renderer, WebVTTRenderer):
            response = Response(timings.webvtt(found.timings, found.text))
            response["Content-Disposition"] = (
                f'inline; filename="page-{audio.page.number}-{audio.voice.split(":")[-1]}.vtt"'
            )
            return response
        return Response(TimingSerializer(found.timings, many=True).data)  # type: ignore[arg-type]

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Errors are the JSON envelope whatever format was asked for.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class DocumentProgressView(APIView):
    """The caller's own place in a document, for resuming on any device."""

    @extend_schema(
        responses={200: ProgressSerializer},
        tags=["audio"],
        description="Where the caller is in this document. Before they have listened, `page` "
        "and `audio` are null.",
    )
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk)
        found = progress.progress_of(user=user, document=document)
        return Response(progress_representation(found or ListeningProgress(document=document)))

    @extend_schema(
        request=ProgressUpdateSerializer, responses={200: ProgressSerializer}, tags=["audio"]
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._save(request, pk, ProgressUpdateSerializer(data=request.data))

    @extend_schema(
        request={
            "application/json": ProgressUpdateSerializer,
            "application/x-www-form-urlencoded": ProgressFormSerializer,
        },
        responses={200: ProgressSerializer},
        tags=["audio"],
        description="The same save as PUT, also as a form: what `navigator.sendBeacon` sends as "
        "a page is left. A browser session puts its CSRF token in the form's "
        "`csrfmiddlewaretoken` field (a beacon cannot set headers).",
    )
    def post(self, request: Request, pk: int) -> Response:
        form = request.content_type.startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        )
        serializer = (ProgressFormSerializer if form else ProgressUpdateSerializer)(
            data=request.data
        )
        return self._save(request, pk, serializer)

    def _save(self, request: Request, pk: int, serializer: ProgressUpdateSerializer) -> Response:
        user = current_user(request)
        document = get_document(user, pk)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        saved = progress.save_progress(
            user=user,
            document=document,
            page_id=data["page"],
            position_seconds=data["position_seconds"],
            audio_id=data.get("audio"),
            voice=data.get("voice"),
            device=data.get("device", ""),
            saved_at=data.get("saved_at"),
        )
        return Response(ProgressSerializer(saved).data)


class DocumentAudiobookView(APIView):
    throttle_classes = [GenerateThrottle]

    @extend_schema(
        request=AudiobookRequestSerializer,
        responses={202: AudiobookSerializer},
        tags=["audio"],
        description="Make the whole document one M4B audiobook (AAC, a chapter per page) in one "
        "voice: every page without audio in it gets its audio made first, as by generate "
        "(permission and each page's quota apply). 409 while one in that voice is being made.",
    )
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk)
        with audited(
            request._request, user=user, action=AccessLog.Action.GENERATE, document=document
        ):
            # Access first: a caller who may not generate learns nothing about the voices.
            require(user, Action.GENERATE_AUDIO, document)
            serializer = AudiobookRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            voice = voices.voice_for(
                user, serializer.validated_data.get("voice"), language=document.language
            )
            book = audiobooks.start_audiobook(user=user, document=document, voice=voice)
        return Response(AudiobookSerializer(book).data, status=status.HTTP_202_ACCEPTED)


class AudiobookDetailView(APIView):
    @extend_schema(
        responses={200: AudiobookSerializer},
        tags=["audio"],
        description="While the book is made, `pages_done` counts its pages whose audio is "
        "made now, and `seconds_left` estimates the time until they all are.",
    )
    def get(self, request: Request, pk: int) -> Response:
        book = audiobooks.audiobook_detail(user=current_user(request), audiobook_id=pk)
        progress = audiobooks.live_progress(book)
        return Response(AudiobookSerializer(book, context={"progress": progress}).data)


class AudiobookDownloadView(APIView):
    @extend_schema(
        responses={
            (200, "audio/mp4"): OpenApiTypes.BINARY,
            (206, "audio/mp4"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="Redirect to a short-lived signed URL (S3)"),
        },
        tags=["audio"],
    )
    def get(self, request: Request, pk: int) -> HttpResponse | StreamingHttpResponse:
        user = current_user(request)
        book = audiobooks.audiobook_detail(user=user, audiobook_id=pk)
        with audited(
            request._request, user=user, action=AccessLog.Action.DOWNLOAD, document=book.document
        ):
            audiobooks.require_downloadable(user=user, book=book)
        filename = audiobooks.download_filename(book.document.title)
        disposition = attachment_disposition(filename, fallback_stem="audiobook")
        if settings.STORAGE_BACKEND == "s3":
            # The signed URL makes S3 answer with the same file name.
            url = default_storage.url(  # type: ignore[call-arg]
                book.file_key, parameters={"ResponseContentDisposition": disposition}
            )
            return HttpResponseRedirect(url)
        return ranged_file_response(
            request._request, storage=default_storage, key=book.file_key,
            content_type="audio/mp4", filename=filename, disposition=disposition,
        )  # fmt: skip


class DocumentPlaylistView(APIView):
    @extend_schema(
        parameters=[PlaylistQuerySerializer],
        responses={200: PlaylistSerializer},
        tags=["audio"],
        description="The document's pages in reading order from `from_page` (a page id; "
        "default the first), each with its playable audio in `voice` (default: the caller's "
        "preferred voice, else the site's): made, or being made (play its `stream_url`). "
        "Without one, `reason` says why: `no_text`, `not_permitted`, `quota_exceeded`, "
        "`not_made`, or `skipped_contents` for a table of contents (passed over unless "
        "`include_contents=true` or it is `from_page`). 400 for an unknown voice or a "
        "`from_page` of another document.",
    )
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk)
        query = PlaylistQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        voice = voices.voice_for(
            user, query.validated_data.get("voice"), language=document.language
        )
        entries = playlist.playlist(
            user=user, document=document, voice=voice,
            from_page=query.validated_data.get("from_page"),
            include_contents=query.validated_data["include_contents"],
        )  # fmt: skip
        return Response(playlist_representation({"voice": voice, "pages": entries}))


class DocumentAudioProgressView(APIView):
    @extend_schema(
        parameters=[AudioProgressQuerySerializer],
        responses={200: AudioProgressSerializer},
        tags=["audio"],
        description="How far the document's audio in `voice` (default: the caller's preferred "
        "voice, else the site's) has got: pages made, being made and failed of all, and an "
        "estimate of the seconds left. For anyone who may see the document; a fixed number of "
        "queries whatever its length, so that a page may ask every few seconds while audio is "
        'made (`POST /documents/{id}/audios/` with `pages: "all"`). 400 for an unknown voice.',
    )
    def get(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk)
        query = AudioProgressQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        voice = voices.voice_for(
            user, query.validated_data.get("voice"), language=document.language
        )
        found = audio_progress.audio_progress(document=document, voice=voice)
        response = Response(AudioProgressSerializer(found).data)
        response["Cache-Control"] = "no-store"
        return response


class DocumentAudiosView(APIView):
    # One request for several pages counts once: a listener asks for the next
    # LISTEN_AHEAD_PAGES pages at a time (core/settings/base.py: THROTTLE_GENERATE).
    throttle_classes = [GenerateThrottle]

    @extend_schema(
        request=DocumentAudiosRequestSerializer,
        responses={202: DocumentAudiosSerializer},
        tags=["audio"],
        description="Make the audio of several pages (or `all`) in one voice, each page as a "
        "single generate would (permission, quota, reuse, outdated audio replaced), in its own "
        "transaction. Each result's `outcome`: `created`, `exists`, `reused`, `replaced`, "
        "`not_permitted`, `quota_exceeded` or `no_text`. A caller who may only view gets "
        "`not_permitted` (or `exists`) outcomes, as the playlist's reasons say, not a 403. "
        "400 for an unknown voice, a page of another document, or more pages than a document "
        "may have; 503 while generation is switched off.",
    )
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk)
        serializer = DocumentAudiosRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        voice = voices.voice_for(
            user, serializer.validated_data.get("voice"), language=document.language
        )
        results = playlist.make_document_audio(
            user=user, document=document, voice=voice,
            pages=serializer.validated_data["pages"], client=client_info(request._request),
        )  # fmt: skip
        body = DocumentAudiosSerializer({"results": results}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

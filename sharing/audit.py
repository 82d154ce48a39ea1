"""The audit trail. Writing it never fails the request it describes."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from core.exceptions import AlreadyExists, ApplicationError, NotFound, PermissionDenied
from document_processing.models import Document
from sharing import services
from sharing.models import AccessLog, DocumentShare, ShareInvitation
from users.models import User

logger = logging.getLogger(__name__)

USER_AGENT_MAX = 300


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str


def client_info(request: HttpRequest) -> ClientInfo:
    """The client's address (from the trusted proxy header only when one is configured)."""
    raw = request.META.get("REMOTE_ADDR", "")
    header = settings.TRUSTED_CLIENT_IP_HEADER
    if header and request.META.get(header):
        # The proxy appends the address it saw; the first entry is the original client.
        raw = request.META[header].split(",")[0].strip()
    try:
        ip: str | None = str(ipaddress.ip_address(raw))
    except ValueError:
        ip = None
    agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX]
    return ClientInfo(ip=ip, user_agent=agent)


def record(
    *,
    user: User | None,
    action: str,
    outcome: str = AccessLog.Outcome.SUCCESS,
    document: Document | None = None,
    audio_id: int | None = None,
    client: ClientInfo | None = None,
    details: dict[str, object] | None = None,
) -> None:
    try:
        AccessLog.objects.create(
            user=user if user is not None and user.is_authenticated else None,
            document=document,
            audio_id=audio_id,
            action=action,
            outcome=outcome,
            client_ip=client.ip if client else None,
            user_agent=client.user_agent if client else "",
            details=details or {},
        )
    except Exception:
        logger.exception("Could not write an audit entry for %s", action)


def record_removed_with(
    request: HttpRequest,
    *,
    user: User,
    document: Document,
    person_id: int,
    removed: Iterable[DocumentShare],
) -> None:
    """One "unshare" entry for each share removed along with the share of `person_id`."""
    client = client_info(request)
    for share in removed:
        record(user=user, action=AccessLog.Action.UNSHARE, document=document, client=client,
               details={"shared_with": share.shared_with_id, "granted_by": person_id})  # fmt: skip


def record_accepted(
    request: HttpRequest | None, *, user: User, shares: Iterable[DocumentShare]
) -> None:
    """One "accepted an invitation" entry, by the person, for each share an invitation became."""
    client = client_info(request) if request is not None else None
    for share in shares:
        record(user=user, action=AccessLog.Action.INVITE_ACCEPT, document=share.document,
               client=client, details={"permission": share.permission})  # fmt: skip


@contextmanager
def audited(
    request: HttpRequest,
    *,
    user: User,
    action: str,
    document: Document | None,
    audio_id: int | None = None,
    details: dict[str, object] | None = None,
    once_within: timedelta | None = None,
) -> Iterator[dict[str, Any]]:
    """Record the action's outcome: success, denied (403/404), exists (a 409 for what exists
    already or is being made) or failed (other errors).

    The block may set `entry["audio_id"]` once it knows the audio (e.g. after creating it), and
    `entry["action"]` once it knows what the request turned out to do (sharing that invited).
    With `once_within`, a success is not recorded again while the same person's same success
    on the same audio is younger than that (a player saving its position every few seconds is
    one listening session in the log, not hundreds of rows). Refusals are always recorded.
    """
    client = client_info(request)
    entry: dict[str, Any] = {"audio_id": audio_id, "action": action}

    def recorded_lately(outcome: str) -> bool:
        if outcome != AccessLog.Outcome.SUCCESS or once_within is None:
            return False
        recent = AccessLog.objects.filter(
            user=user, action=entry["action"], outcome=outcome,
            created_at__gte=timezone.now() - once_within,
        )  # fmt: skip
        audio = entry["audio_id"]
        if audio is None:
            recent = recent.filter(audio_id__isnull=True)
        else:
            recent = recent.filter(audio_id=audio)
        return recent.exists()

    def write(outcome: str) -> None:
        if recorded_lately(outcome):
            return
        record(user=user, action=entry["action"], outcome=outcome, document=document,
               audio_id=entry["audio_id"], client=client, details=details)  # fmt: skip

    try:
        yield entry
    except (PermissionDenied, NotFound):
        write(AccessLog.Outcome.DENIED)
        raise
    except AlreadyExists:
        write(AccessLog.Outcome.EXISTS)
        raise
    except ApplicationError:
        write(AccessLog.Outcome.FAILED)
        raise
    write(AccessLog.Outcome.SUCCESS)


def shared_and_logged(
    request: HttpRequest, *, user: User, document: Document, email: str, permission: str
) -> DocumentShare | ShareInvitation:
    """`share_document` from a request (the API's or the share dialog's), in the document's
    activity as what it turned out to be: a share changed, or an invitation sent."""
    with audited(
        request, user=user, action=AccessLog.Action.SHARE, document=document,
        details={"permission": permission},
    ) as entry:  # fmt: skip
        result = services.share_document(
            user=user, document=document, email=email, permission=permission
        )
        if isinstance(result, ShareInvitation):
            entry["action"] = AccessLog.Action.INVITE
    return result

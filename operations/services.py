"""Operations actions: change the site settings; delete for staff; record what staff do.

Every change staff make to the site settings, and to people's documents and audio through the
dashboard or the admin, is kept in StaffAction with the values before and after.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from core.exceptions import ValidationError
from document_processing.models import Document, Page
from document_processing.services import delete_stored_files, stored_files_of
from operations import retention
from operations.models import SITE_SETTINGS_ID, SiteSettings, StaffAction
from operations.site_settings import forget_cached, site_settings
from speech_processing.models import Audio
from users.models import User

# Values longer than this (as JSON) are cut in the staff trail: page texts, sentence timings.
SNAPSHOT_VALUE_MAX = 500
# Never written to the staff trail.
SECRET_FIELDS = frozenset({"password"})


# --- Site settings ------------------------------------------------------------------------------


def update_site_settings(
    *, staff: User, values: Mapping[str, Any], via: str = StaffAction.Via.DASHBOARD
) -> SiteSettings:
    """Change the site settings; the change (values before and after) goes to the staff trail."""
    unknown = set(values) - set(SiteSettings.EDITABLE)
    if unknown:
        raise ValueError(f"Not site settings: {sorted(unknown)}")
    with transaction.atomic():
        row, _created = SiteSettings.objects.select_for_update().get_or_create(pk=SITE_SETTINGS_ID)
        before = {name: getattr(row, name) for name in SiteSettings.EDITABLE}
        for name, value in values.items():
            setattr(row, name, value)
        try:
            row.full_clean()
        except DjangoValidationError as exc:
            fields = {
                name: [str(m) for m in messages] for name, messages in exc.message_dict.items()
            }
            first = next(iter(fields.values()))[0]
            raise ValidationError(first, fields=fields) from exc
        after = {name: getattr(row, name) for name in SiteSettings.EDITABLE}
        changed = [name for name in SiteSettings.EDITABLE if before[name] != after[name]]
        if not changed:
            return row
        row.updated_by = staff
        row.save()
        record_staff_action(
            staff=staff,
            action=StaffAction.Kind.SETTINGS_CHANGE,
            via=via,
            target=row,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
        forget_cached()
        transaction.on_commit(forget_cached)
        if "audio_retention_days" in changed:
            retention.renew_expiry_dates(days=site_settings().audio_retention_days)
    return row


# --- Staff actions ------------------------------------------------------------------------------


def snapshot(instance: models.Model, *, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """An object's field values as JSON-friendly data: secrets and bookkeeping (`auto_now`) left
    out, times to the second (as forms show them), long values cut."""
    names = set(fields) if fields is not None else None
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in SECRET_FIELDS or (names is not None and field.name not in names):
            continue
        if getattr(field, "auto_now", False):
            continue
        value = field.value_from_object(instance)
        if isinstance(value, datetime):
            value = value.replace(microsecond=0)
        values[field.name] = _short(value)
    return values


def _short(value: Any) -> Any:
    encoded = json.dumps(value, cls=DjangoJSONEncoder, default=str)
    if len(encoded) <= SNAPSHOT_VALUE_MAX:
        return json.loads(encoded)
    return encoded[:SNAPSHOT_VALUE_MAX] + "…"


def changed_values(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields whose values differ, before and after."""
    names = [name for name in after if before.get(name) != after[name]]
    return {name: before.get(name) for name in names}, {name: after[name] for name in names}


def record_staff_action(
    *,
    staff: User,
    action: str,
    via: str,
    target: models.Model,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> StaffAction:
    return StaffAction.objects.create(
        staff=staff,
        staff_email=staff.email,
        action=action,
        via=via,
        target_type=target._meta.label_lower,
        target_id="" if target.pk is None else str(target.pk),
        target_repr=str(target)[:300],
        before={key: _short(value) for key, value in (before or {}).items()},
        after={key: _short(value) for key, value in (after or {}).items()},
    )


def staff_saved(
    *, staff: User, instance: models.Model, before: Mapping[str, Any] | None, via: str
) -> StaffAction | None:
    """Record a change staff made to an object (`before`: its values before, None if new)."""
    after = snapshot(instance)
    if before is None:
        return record_staff_action(
            staff=staff, action=StaffAction.Kind.CREATE, via=via, target=instance, after=after
        )
    old, new = changed_values(before, after)
    if not new:
        return None
    return record_staff_action(
        staff=staff, action=StaffAction.Kind.CHANGE, via=via, target=instance, before=old,
        after=new,
    )  # fmt: skip


def staff_delete(*, staff: User, instance: models.Model, via: str) -> None:
    """Delete an object for staff, its stored files too, and record what it was.

    A person's account goes through the same deletion as when they ask themselves (exports,
    audit anonymisation, people who lose shared documents told, a purge that survives crashes).
    """
    if isinstance(instance, User):
        from users.deletion import start_account_deletion

        with transaction.atomic():
            record_staff_action(
                staff=staff, action=StaffAction.Kind.DELETE, via=via, target=instance,
                before=snapshot(instance),
            )  # fmt: skip
            start_account_deletion(user=instance)
        return
    with transaction.atomic():
        keys = _stored_files(instance)
        record_staff_action(
            staff=staff, action=StaffAction.Kind.DELETE, via=via, target=instance,
            before=snapshot(instance),
        )  # fmt: skip
        instance.delete()
        if keys:
            transaction.on_commit(lambda: delete_stored_files(keys=keys))


def _stored_files(instance: models.Model) -> list[str]:
    """Files in storage that go with the object (rows deleted in cascade included)."""
    if isinstance(instance, Document):
        return stored_files_of(instance)
    if isinstance(instance, Audio):
        return [instance.file_key] if instance.file_key else []
    if isinstance(instance, Page):
        return list(
            Audio.objects.filter(page=instance)
            .exclude(file_key="")
            .values_list("file_key", flat=True)
        )
    return []

"""Admin classes the apps' admin modules build on.

`StaffAuditedAdmin`: whatever staff add, change or delete through the admin goes to the staff
trail (StaffAction) with the values before and after; deleting removes stored files as well.
`ReadOnlyAdmin`: audit trails, which nobody edits.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from operations import services
from operations.models import StaffAction
from users.models import User


def _staff(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class StaffAuditedAdmin(admin.ModelAdmin):
    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        before = None
        if change and obj.pk is not None:
            current = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = services.snapshot(current) if current is not None else None
        super().save_model(request, obj, form, change)
        services.staff_saved(
            staff=_staff(request), instance=obj, before=before, via=StaffAction.Via.ADMIN
        )

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        services.staff_delete(staff=_staff(request), instance=obj, via=StaffAction.Via.ADMIN)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            services.staff_delete(staff=_staff(request), instance=obj, via=StaffAction.Via.ADMIN)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown to staff, changed by nobody."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

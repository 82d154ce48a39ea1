from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from operations.admin_audit import ReadOnlyAdmin, StaffAuditedAdmin
from users.models import AccountDeletion, User

# The admin has no log-in form of its own: /admin/login/ sends people to the site's log-in
# (allauth's, with its throttles and lock-out) and back again, as allauth's docs advise. A person
# already logged in who is not staff gets a 403 there.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


@admin.register(User)
class UserAdmin(StaffAuditedAdmin, BaseUserAdmin):
    """Changes and deletions are in the staff trail (never the password); deleting a person
    removes their documents' stored files too."""

    ordering = ["email"]
    list_display = ["email", "display_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "date_joined"]
    search_fields = ["email", "display_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("display_name", "preferred_voice")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(AccountDeletion)
class AccountDeletionAdmin(ReadOnlyAdmin):
    """Accounts on their way out; the purge job works through them, staff only watch."""

    list_display = ["user", "anonymous_id", "requested_at", "claimed_at", "attempts"]
    list_filter = ["requested_at"]
    search_fields = ["user__email", "anonymous_id"]
    list_select_related = ["user"]

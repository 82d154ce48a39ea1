from django.apps import AppConfig
from django.db.models.signals import post_save


class UsersConfig(AppConfig):
    name = "users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from users.models import User
        from users.signals import revoke_credentials_on_new_password

        post_save.connect(
            revoke_credentials_on_new_password,
            sender=User,
            dispatch_uid="users.revoke_credentials_on_new_password",
        )

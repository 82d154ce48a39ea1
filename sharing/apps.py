from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "sharing"

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed
        from django.contrib.auth.signals import user_logged_in

        from sharing.signals import accept_on_confirmation, accept_on_login

        # Invitations to an address become shares once its owner has shown they receive mail
        # there (sharing/invitations.py).
        email_confirmed.connect(
            accept_on_confirmation, dispatch_uid="sharing.accept_invitations_on_confirmation"
        )
        user_logged_in.connect(accept_on_login, dispatch_uid="sharing.accept_invitations_on_login")

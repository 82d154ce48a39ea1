from __future__ import annotations

from typing import Any

import factory
from allauth.account.models import EmailAddress

from users.models import User

DEFAULT_PASSWORD = "correct horse battery staple"


def _set_password(user: User, create: bool, extracted: str | None, **kwargs: Any) -> None:
    user.set_password(extracted or DEFAULT_PASSWORD)
    if create:
        user.save(update_fields=["password"])
        EmailAddress.objects.get_or_create(
            user=user, email=user.email, defaults={"primary": True, "verified": True}
        )


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.PostGeneration(_set_password)

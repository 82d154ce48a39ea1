"""gunicorn as the Procfile runs it, without the access log (it would time the log, not the app)."""

from core.gunicorn_conf import *  # noqa: F403

accesslog = None  # type: ignore[assignment]

"""Serve requests as a web process does, in a process of its own, and say what it loaded.

Run as `python -m core.tests.web_requests` with the settings and database in the environment.
It reads from stdin `{"email": ..., "requests": [[method, path, who, (JSON body)], ...]}`,
where `who` is `anon`, `browser` (logged in with a session) or `api` (the person's token), makes
each request through Django's test client, and prints one JSON line: each answer's status (and
body, when JSON), the speech-engine packages that were imported (onnxruntime, piper) and how many
Piper voices were loaded.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# What a speech engine brings into a process: the Piper voices' runtime and Piper itself.
ENGINE_PACKAGES = ("onnxruntime", "piper")


def engine_modules() -> list[str]:
    return sorted(name for name in sys.modules if name.split(".")[0] in ENGINE_PACKAGES)


def main() -> None:
    import django

    django.setup()
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from users.models import User

    spec: dict[str, Any] = json.load(sys.stdin)
    loaded_at_start = engine_modules()
    user = User.objects.get(email=spec["email"])
    token, _ = Token.objects.get_or_create(user=user)
    browser = Client()
    browser.force_login(user)
    clients = {
        "anon": Client(),
        "browser": browser,
        "api": Client(HTTP_AUTHORIZATION=f"Token {token.key}"),
    }
    answers = []
    for method, path, who, *data in spec["requests"]:
        body = json.dumps(data[0] if data else {}).encode()
        response = clients[who].generic(method, path, body, content_type="application/json")
        streamed = response.streaming
        content = b"".join(response.streaming_content) if streamed else response.content  # type: ignore[attr-defined]
        is_json = response.get("Content-Type", "").startswith("application/json")
        answers.append([method, path, response.status_code, content.decode() if is_json else ""])
    piper = sys.modules.get("speech_processing.engines.piper")
    print(
        json.dumps(
            {
                "answers": answers,
                "engine_modules_at_start": loaded_at_start,
                "engine_modules": engine_modules(),
                "piper_voices_loaded": len(getattr(piper, "_LOADED", {})),
            }
        )
    )


if __name__ == "__main__":
    main()

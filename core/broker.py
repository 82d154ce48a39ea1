"""The embedded default broker: Celery messages kept as files under the data directory.

kombu's own filesystem transport creates a message file and then writes into it, so a polling
worker can pick up an empty file, fail to decode it and lose the message (kombu issue #1551;
measured: 2 of 2 stress runs crashed). Here a message is written to a temporary folder and renamed
into the queue folder, and a consumer claims a message by renaming it out of the queue folder,
so each message is seen whole and by exactly one consumer. Renames are atomic only within one
filesystem, so every folder lives under one parent.
"""

from __future__ import annotations

import os
import uuid
from itertools import count
from pathlib import Path
from queue import Empty
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

SCHEME = "pagecastfs"
_sequence = count()


class Channel(filesystem.Channel):
    def _folder(self, option: str, default: str) -> Path:
        folder = Path(self.transport_options.get(option, default))
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def _queue_folder(self) -> Path:
        return self._folder("data_folder_in", "data_in")

    @property
    def _tmp_folder(self) -> Path:
        return self._folder("tmp_folder", str(self._queue_folder.parent / "tmp"))

    @property
    def _claim_folder(self) -> Path:
        return self._folder("processed_folder", str(self._queue_folder.parent / "processed"))

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        # Declaring a queue proves the folders exist and are writable (the health check uses it).
        probe = self._tmp_folder / f".probe-{uuid.uuid4()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ChannelError("The broker folder is not writable") from exc
        self._queue_folder  # noqa: B018  (creates the folder)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # Consumers take files in name order: nanoseconds plus a counter keep the order of puts.
        name = f"{monotonic_ns():020d}_{next(_sequence):08d}_{uuid.uuid4().hex}.{queue}.msg"
        tmp_path = self._tmp_folder / name
        try:
            with open(tmp_path, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp_path, self._queue_folder / name)
        except OSError as exc:
            tmp_path.unlink(missing_ok=True)
            raise ChannelError(f"Cannot add a message to queue {queue!r}") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        suffix = f".{queue}.msg"
        for name in sorted(os.listdir(self._queue_folder)):
            if not name.endswith(suffix) or name.partition(".")[2] != suffix[1:]:
                continue
            claimed = self._claim_folder / name
            try:
                # Whoever renames the file first owns the message; the others move on.
                os.rename(self._queue_folder / name, claimed)
            except FileNotFoundError:
                continue
            try:
                payload = claimed.read_bytes()
            finally:
                claimed.unlink(missing_ok=True)
            return loads(bytes_to_str(payload))
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = SCHEME
    driver_name = SCHEME

    # kombu keeps declared exchanges and bindings in one state per process; keyed by folder here,
    # so connections to different broker folders in one process (tests) do not share bindings.
    _states: dict[str, virtual.BrokerState] = {}

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        folder = str(client.transport_options.get("control_folder", "control"))
        self.state = self._states.setdefault(folder, virtual.BrokerState())


TRANSPORT_ALIASES[SCHEME] = "core.broker:Transport"

import logging
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from core.celery import task_failed
        from operations import receivers

        # Tasks that fail for good (an exception escaped them) become TaskFailure records.
        task_failed.connect(receivers.record_failed_task, dispatch_uid="operations.task_failed")
        # Each worker reports in and gives back the jobs of workers that died.
        from celery import signals

        from operations import workers

        signals.worker_ready.connect(workers.start_reporter, dispatch_uid="operations.reporter")
        signals.worker_shutdown.connect(workers.stop_reporter, dispatch_uid="operations.reporter")
        # Uploads are written to a folder of ours (FILE_UPLOAD_TEMP_DIR), which must exist.
        try:
            Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
        except OSError:
            logging.getLogger(__name__).warning(
                "Could not make the folder for temporary uploads; uploads will fail"
            )

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from core.celery import task_failed
        from operations import receivers

        # Tasks that fail for good (an exception escaped them) become TaskFailure records.
        task_failed.connect(receivers.record_failed_task, dispatch_uid="operations.task_failed")

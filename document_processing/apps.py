from django.apps import AppConfig


class DocumentProcessingConfig(AppConfig):
    name = "document_processing"
    verbose_name = "Documents"

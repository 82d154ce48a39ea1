from django.apps import AppConfig


class SpeechProcessingConfig(AppConfig):
    name = "speech_processing"
    verbose_name = "Speech"

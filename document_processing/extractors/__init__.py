"""Text extractors: one module per format, each turning a file on disk into pages of Markdown.

Extractors are pure: they import no models and no Django settings; whatever they need is handed to
them (see `base.ExtractionLimits`). The service layer picks one through `registry`.
"""

"""Speech engines behind one Protocol (``base.SpeechEngine``), chosen by name (``registry``).

Only the contract is imported here; engine modules (Piper loads onnxruntime, Polly boto3) are
imported when the registry builds one.
"""

from speech_processing.engines.base import (
    AudioPiece,
    EngineError,
    PermanentEngineError,
    SpeechEngine,
    TransientEngineError,
    Voice,
)

__all__ = [
    "AudioPiece",
    "EngineError",
    "PermanentEngineError",
    "SpeechEngine",
    "TransientEngineError",
    "Voice",
]

"""Settings for `make run` on one machine: the embedded default."""

from core.settings.base import *  # noqa: F403
from core.settings.env import env_bool

DEBUG = env_bool("DEBUG", False)

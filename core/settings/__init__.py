"""Settings: `base` holds every setting read from the environment; the others adjust it."""

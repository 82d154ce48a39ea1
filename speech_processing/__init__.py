"""Speech processing: voices, engines, text preparation, synthesis and audio encoding."""

"""Tests for speech_processing."""

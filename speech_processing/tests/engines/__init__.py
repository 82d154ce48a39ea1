"""Tests for the speech engines."""

"""Shares of documents between people (the sharing issue adds DocumentShare and the audit log)."""

"""The `pagecast` command line."""

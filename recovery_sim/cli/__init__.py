"""The `recovery-sim` command line."""

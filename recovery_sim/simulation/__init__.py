"""Simulating customers: keyed randomness, customers, the two engine paths, the recorder."""

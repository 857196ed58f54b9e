"""Stripe histories: reading exports, mapping them to frames, replay, calibration, export."""

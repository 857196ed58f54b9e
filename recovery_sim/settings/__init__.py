"""Scenario and Policy: what a user sets, validated at the edge with errors naming file and field."""

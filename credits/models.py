"""Continuing-education credit: activity record, claims, certificates (issue #6)."""

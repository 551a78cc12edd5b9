"""Exports for people (issue #7, section 8): background export jobs with progress."""

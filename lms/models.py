"""LMS integration: API tokens, outbox deliveries, LTI, exports (issue #7)."""

"""A locale format for tests/test_number_format.py: every digit grouped, by a separator no page holds."""

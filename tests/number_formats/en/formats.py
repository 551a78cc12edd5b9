# Read by Django's get_format through FORMAT_MODULE_PATH = "tests.number_formats" (en and en-us).
THOUSAND_SEPARATOR = "§"
NUMBER_GROUPING = 1

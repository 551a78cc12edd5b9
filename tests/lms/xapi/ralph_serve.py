"""Run Ralph's LRS (uvicorn, `ralph.api:app`) for the tests, with one fix.

Usage: python -m tests.lms.xapi.ralph_serve PORT (configured by RALPH_* variables).

Ralph 5.1.0's filesystem LRS backend writes every statement with its data
backend's default operation, CREATE, to the one file `fs_lrs.jsonl`; CREATE
refuses an existing file, so the second statement ever stored fails with a
500 ("already exists and overwrite is not allowed"). An LRS must append, so
we set the backend's default to APPEND, the operation its data backend
already supports (ralph/backends/data/fs.py), before the app is imported.
Nothing else of Ralph is changed: validation, deduplication (204 for an
identical resend, 409 for a changed one), auth and queries are its own.
"""

import sys

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

if __name__ == "__main__":
    uvicorn.run("ralph.api:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="info")

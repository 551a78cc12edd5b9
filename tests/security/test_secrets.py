"""Secrets never in the repository: private keys, AWS keys, a real DJANGO_SECRET_KEY.

The repository tree is walked directly (no git): every text file outside
virtualenvs, caches, node_modules, .git and collected static files. A vendored
test fixture that holds a deliberately fake key must be listed in ALLOWED, with
why it is harmless.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SKIP_DIRS = {
    ".venv", "venv", "node_modules", ".git", "staticfiles", "__pycache__",
    ".pytest_cache", ".ruff_cache", ".hypothesis", ".import_linter_cache", ".mypy_cache",
}
MAX_BYTES = 5_000_000

# Fake keys kept on purpose: {repo-relative path: why it is harmless}. Empty today.
ALLOWED: dict[str, str] = {}

# The documented development key (config/settings.py, README "Settings").
DEV_PLACEHOLDER = "django-insecure-development-only-key-never-used-in-production"

# Built from parts so this file does not match itself.
_BEGIN, _END = "-----" + "BEGIN", "-----"
PRIVATE_KEY = re.compile(_BEGIN + r" (?:[A-Z0-9]+ )*PRIVATE KEY" + _END + r"\s*[A-Za-z0-9+/=:,\-\s]{64,}")
AWS_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
AWS_SECRET = re.compile(r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}\b", re.IGNORECASE)
SECRET_ASSIGNMENT = re.compile(r"\b(?:DJANGO_)?SECRET_KEY\s*[=:]\s*['\"]([^'\"\s]+)['\"]")


def secret_findings(text: str) -> list[str]:
    """What in `text` looks like a committed secret."""
    found = []
    if PRIVATE_KEY.search(text):
        found.append("private key")
    if AWS_ACCESS_KEY.search(text):
        found.append("AWS access key id")
    if AWS_SECRET.search(text):
        found.append("AWS secret access key")
    for match in SECRET_ASSIGNMENT.finditer(text):
        value = match.group(1)
        # Short literals are test stand-ins (e.g. "k" * 60), not keys; the placeholder is documented.
        if value != DEV_PLACEHOLDER and len(value) >= 20 and not value.startswith(("${", "...", "<")):
            found.append(f"SECRET_KEY literal {value[:6]}...")
    return found


def repository_text_files(root: Path):
    for path in root.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(root).parts[:-1]) or not path.is_file():
            continue
        if path.stat().st_size > MAX_BYTES:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (the SQLite file, images, PDFs)
        yield path, data.decode("utf-8", "replace")


def test_no_secrets_in_the_repository():
    problems = []
    for path, text in repository_text_files(ROOT):
        relative = path.relative_to(ROOT).as_posix()
        if relative in ALLOWED:
            continue
        problems += [f"{relative}: {finding}" for finding in secret_findings(text)]
    assert not problems, "\n".join(problems)


def test_allow_list_entries_still_exist():
    """A stale allow-list entry would silently allow a future file at that path."""
    assert all((ROOT / path).is_file() for path in ALLOWED), ALLOWED


def test_the_scanner_finds_what_it_should(tmp_path):
    """Harness self-test: planted secrets are found; the placeholder and a mere mention are not."""
    fake_pem = _BEGIN + " RSA PRIVATE KEY" + _END + "\n" + ("QUJD" * 16 + "\n") * 3
    (tmp_path / "key.pem").write_text(fake_pem)
    (tmp_path / "aws.env").write_text("AWS_ACCESS_KEY_ID=AKIA" + "ABCDEFGHIJKLMNOP\n")
    (tmp_path / "settings.py").write_text('SECRET_KEY = "' + "x9" * 25 + '"\n')
    (tmp_path / "ok.py").write_text(
        f'SECRET_KEY = "{DEV_PLACEHOLDER}"\nassert key.startswith("{_BEGIN} PRIVATE KEY{_END}")\n'
    )
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "vendored.pem").write_text(fake_pem)
    found = {path.name: secret_findings(text) for path, text in repository_text_files(tmp_path)}
    assert found["key.pem"] == ["private key"]
    assert found["aws.env"] == ["AWS access key id"]
    assert found["settings.py"] and found["settings.py"][0].startswith("SECRET_KEY literal")
    assert found["ok.py"] == []
    assert "vendored.pem" not in found

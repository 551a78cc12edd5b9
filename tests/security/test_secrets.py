"""Secrets never in the repository: every tracked file, and every line its history ever added.

The scanning is detect-secrets' (Yelp): its plugins find private keys, cloud
and service tokens (AWS, Azure, GitHub, GitLab, Slack, Stripe, PyPI, npm,
OpenAI, ...), JWTs, passwords in URLs, high-entropy strings and values
assigned to secret-sounding names, and its filters drop the usual false
positives (templated values, UUIDs, indirect references).

- The tree: every file git tracks (or, outside a git checkout, every file but
  virtualenvs and caches), with all the plugins. A line reviewed as harmless
  (a test account's password, the documented development key) carries
  `# pragma: allowlist secret`, detect-secrets' own marker. A finding in a
  vendored file that cannot carry one is listed in ALLOWED, by path, type and
  the secret's hash, with why.
- The history: lines added by any commit that are no longer in the tree, with
  the plugins that name a kind of credential and the one for values given to
  secret-sounding names (not the entropy ones, which on bare lines out of
  their files flag every table and hash). A secret committed and then
  deleted is still published by every clone. A harmless old finding is
  listed in ALLOWED_HISTORY, with why: by the secret's hash (a test password
  stays allowed however its lines change), but a private key's header by its
  line's, since every key of a kind has the same header.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import scan_file, scan_line
from detect_secrets.settings import default_settings, transient_settings

ROOT = Path(__file__).resolve().parents[2]

# Outside a git checkout (an unpacked archive), the tree is walked, skipping these.
SKIP_DIRS = {
    ".venv", ".venv-runtime", "venv", "node_modules", ".git", "staticfiles", "__pycache__",
    ".pytest_cache", ".ruff_cache", ".hypothesis", ".import_linter_cache", ".mypy_cache",
}

# Findings in files that cannot carry the pragma: {(path, type, sha1 of the secret): why it is harmless}.
ALLOWED: dict[tuple[str, str, str], str] = {
    # pragma: allowlist nextline secret
    ("tests/lms/scorm_runtime/scorm-again.min.js", "IBM Cloud IAM Key", "ab2a3787942e195e5030be17169a0dc63d2e17d2"):
        "scorm-again's minified build (the real SCORM runtime the tests drive): the match is its method name "
        "syncFreshlyWrittenObjectivesToActiveAncestor, not a key. One line long, the file cannot carry a pragma.",
    # pragma: allowlist nextline secret
    ("tests/lms/scorm_runtime/scorm-again.min.js", "IBM Cloud IAM Key", "e1b5b36a2bf85aca3c07ff7a107e84927efa69c1"):
        "As above: its property name objectiveInfoAvailableInCurrentParentAttempt.",
}

# Old findings of the history scan: {(type, sha1 of the secret, or for "Private Key" sha256 of the
# stripped line): why it is harmless}.
ALLOWED_HISTORY: dict[tuple[str, str], str] = {
    # pragma: allowlist nextline secret
    ("Private Key", "66224a0ba6f7fb6c5e573d0a8e8b59e16f6d9c82b9a18fce3b9e6bcc81da81a6"):
        "tests/lms/lti/test_admin_and_config.py before its pragma: an assertion that a generated key "
        "starts with the PEM header. The line holds the header only, no key.",
    ("Secret Keyword", "86cb56d42d360a2ff44f2a3af9b374e4f33ae1ab"):  # pragma: allowlist secret
        "Test accounts' password (tests/accounts/).",
    ("Secret Keyword", "6419208e355abe3a573538f23f1bdb19969b24c6"):  # pragma: allowlist secret
        "A test account's password (test_client_address).",
    ("Secret Keyword", "1f4bb9c8ee6718ccf6c78b48cbd2411dc91107fe"):  # pragma: allowlist secret
        "A test LRS endpoint's secret (xAPI admin tests).",
    ("Secret Keyword", "a4b48a81cdab1e1a5dd37907d6c85ca1c61ddc7c"):  # pragma: allowlist secret
        "The wrong password of failed log-in tests.",
    ("Secret Keyword", "5ffe533b830f08a0326348a9160afafc8ada44db"):  # pragma: allowlist secret
        "A form's usable_password flag, not a password.",
    ("Secret Keyword", "0e61cfdd28a6a03b24a5daef1f657711d01baec6"):  # pragma: allowlist secret
        "The Standard Webhooks secret prefix, in a docstring.",
    ("Secret Keyword", "d5ac045821fc0e131ee344d6210c7b441bc48511"):  # pragma: allowlist secret
        "The documented development SECRET_KEY (config/settings.py), refused when DJANGO_DEBUG is off.",
}

# The history scan's plugins: those that name a kind of credential, and secret-sounding names.
HISTORY_PLUGINS = sorted(
    plugin.__name__ for plugin in get_mapping_from_secret_type_to_class().values() if "Entropy" not in plugin.__name__
)


def _git(*args: str, cwd: Path = ROOT) -> str | None:
    """git's output in `cwd`, or None when it is not a git checkout (or git is missing)."""
    if shutil.which("git") is None or not (cwd / ".git").exists():
        return None
    return subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        ["git", *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="replace", check=True,
    ).stdout


def tree_files(root: Path) -> list[str]:
    """The repository's files, relative to `root`: what git tracks, else every file outside SKIP_DIRS."""
    listed = _git("ls-files", "-z", cwd=root)
    if listed is not None:
        return [name for name in listed.split("\0") if name and (root / name).is_file()]
    return sorted(
        path.relative_to(root).as_posix() for path in root.rglob("*")
        if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(root).parts[:-1])
    )


def _scan_file(path: str) -> list[tuple[int, str, str]]:
    """(line, type, sha1 of the secret) of each secret in one file, with every plugin and filter."""
    with default_settings():
        return [(secret.line_number, secret.type, secret.secret_hash) for secret in scan_file(path)]


def tree_findings(root: Path) -> list[tuple[str, int, str, str]]:
    """(path, line, type, sha1 of the secret) of every secret detect-secrets finds in the tree.

    Two processes, as the machines have two cores. Spawned, not forked: the
    test process may hold threads (the browser tests') and database connections.
    """
    files = tree_files(root)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(_scan_file, [str(root / name) for name in files], chunksize=8)
        return sorted(
            (name, line, kind, digest) for name, found in zip(files, results, strict=True) for line, kind, digest in found
        )


def history_missing(root: Path) -> str | None:
    """Why `root` has no full history to scan (not a git checkout, or a shallow clone), or None."""
    shallow = _git("rev-parse", "--is-shallow-repository", cwd=root)
    if shallow is None:
        return "not a git checkout: there is no history to scan"
    if shallow.strip() == "true":
        return "a shallow clone: fetch the whole history (git fetch --unshallow) to scan it"
    return None


def history_lines(root: Path) -> dict[str, str] | None:
    """{line: the commit and file that first added it} for the lines any commit added that no tracked
    file holds today; None outside a git checkout."""
    log = _git("log", "--all", "-p", "-U0", "--no-color", "--no-ext-diff", "--format=commit %h", cwd=root)
    if log is None:
        return None
    added, commit, path, previous = {}, "", "", ""
    for line in log.splitlines():  # newest commit first: the oldest that added a line writes last
        if line.startswith("commit "):
            commit = line[len("commit "):]
        elif line.startswith("+++ ") and previous.startswith("--- "):  # a file's header, not "++" added
            path = line[len("+++ b/"):]
        elif line.startswith("+"):
            added[line[1:]] = f"commit {commit}, {path}"
        previous = line
    today = set()
    for name in tree_files(root):
        today.update((root / name).read_text(encoding="utf-8", errors="replace").splitlines())
    return {line: where for line, where in sorted(added.items()) if line not in today}


def line_hash(line: str) -> str:
    return hashlib.sha256(line.strip().encode()).hexdigest()


def history_findings(lines: dict[str, str]) -> list[tuple[str, str, str]]:
    """(type, digest, where the line was added) of each secret in `history_lines`' lines.

    The type and digest are ALLOWED_HISTORY's keys. The report names the
    commit and file, never the line: it would print the secret again.
    """
    found = []
    with transient_settings({"plugins_used": [{"name": name} for name in HISTORY_PLUGINS]}):
        for line, where in lines.items():
            found += [
                (secret.type, line_hash(line) if secret.type == "Private Key" else secret.secret_hash, where)
                for secret in scan_line(line)
            ]
    return found


@functools.cache
def repository_tree_findings() -> list[tuple[str, int, str, str]]:
    """This repository's `tree_findings`, scanned once for the tests below (about 10 s on two cores)."""
    return tree_findings(ROOT)


@functools.cache
def repository_history_findings() -> list[tuple[str, str, str]]:
    return history_findings(history_lines(ROOT))


def test_no_secrets_in_the_tree():
    problems = [
        f"{path}:{line}: {kind} (allow it only if harmless: `# pragma: allowlist secret` on the line or `# pragma: allowlist nextline secret` above it, "
        f"or ALLOWED[({path!r}, {kind!r}, {digest!r})] with why)"
        for path, line, kind, digest in repository_tree_findings()
        if (path, kind, digest) not in ALLOWED
    ]
    assert not problems, "\n".join(problems)


def test_no_secrets_in_the_history():
    missing = history_missing(ROOT)
    if missing:
        pytest.skip(missing)
    found = repository_history_findings()
    problems = [
        f"{kind} added by {where}, no longer in the tree (if harmless, ALLOWED_HISTORY[{(kind, digest)!r}] "
        "with why; if not, it is published in every clone: revoke it)"
        for kind, digest, where in found
        if (kind, digest) not in ALLOWED_HISTORY
    ]
    assert not problems, "\n".join(problems)


def test_allow_lists_hold_no_stale_entries():
    """An entry that allows nothing any more would quietly allow a future finding: remove it."""
    found = {(path, kind, digest) for path, _, kind, digest in repository_tree_findings()}
    assert set(ALLOWED) <= found, set(ALLOWED) - found
    if not history_missing(ROOT):
        flagged = {(kind, digest) for kind, digest, _ in repository_history_findings()}
        assert set(ALLOWED_HISTORY) <= flagged, set(ALLOWED_HISTORY) - flagged


# Harness self-tests: planted secrets are found, reviewed lines and skipped folders are not.

_BEGIN, _END = "-----" + "BEGIN", "-----"  # built from parts, so this file does not match itself
FAKE_PEM = _BEGIN + " RSA PRIVATE KEY" + _END + "\n" + ("QUJD" * 16 + "\n") * 3 + "-----END RSA PRIVATE KEY-----\n"
FAKE_AWS = "AWS_ACCESS_KEY_ID=AKIA" + "ABCDEFGHIJKLMNOP\n"
FAKE_GITHUB = 'TOKEN = "ghp_' + "a1B2c3D4e5F6g7H8i9J0" * 2 + 'ab12"\n'
FAKE_SLACK = 'HOOK = "https://hooks.slack.com/services/T' + "0" * 8 + "/B" + "1" * 8 + "/" + "x" * 24 + '"\n'
FAKE_SETTING = 'SECRET_KEY = "' + "x9Qz" * 12 + '"\n'


def _planted(root: Path) -> None:
    (root / "key.pem").write_text(FAKE_PEM)
    (root / "aws.env").write_text(FAKE_AWS)
    (root / "tokens.py").write_text(FAKE_GITHUB + FAKE_SLACK)
    (root / "settings.py").write_text(FAKE_SETTING)
    (root / "ok.py").write_text(FAKE_SETTING.rstrip("\n") + "  # pragma: allowlist secret\n"
                                'assert key.startswith("' + _BEGIN + " PRIVATE KEY" + _END + '")  '
                                "# pragma: allowlist secret\n")


def test_the_tree_scan_finds_planted_secrets(tmp_path):
    _planted(tmp_path)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "vendored.pem").write_text(FAKE_PEM)
    found = {}
    for path, _, kind, _ in tree_findings(tmp_path):
        found.setdefault(path, set()).add(kind)
    assert found.pop("key.pem") == {"Private Key"}
    assert found.pop("aws.env") == {"AWS Access Key"}
    assert {"GitHub Token", "Slack Token"} <= found.pop("tokens.py")
    assert "Secret Keyword" in found.pop("settings.py")
    assert found == {}  # ok.py's reviewed lines and the skipped .venv are not reported


def test_the_tree_scan_reads_what_git_tracks(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    _planted(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # noqa: S603, S607
    subprocess.run(["git", "-C", str(tmp_path), "add", "aws.env", "ok.py"], check=True)  # noqa: S603, S607
    assert [path for path, *_ in tree_findings(tmp_path)] == ["aws.env"]  # the untracked files are not read


def test_the_history_scan_finds_a_deleted_secret(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],  # noqa: S603, S607
                       check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "tokens.py").write_text(FAKE_GITHUB + 'NAME = "kept"\n')
    (tmp_path / "key.pem").write_text(FAKE_PEM)
    git("add", ".")
    git("commit", "-q", "-m", "add")
    (tmp_path / "tokens.py").write_text('NAME = "kept"\n')  # the token deleted; the key still here
    git("commit", "-q", "-am", "remove")
    assert history_missing(tmp_path) is None
    lines = history_lines(tmp_path)
    assert 'NAME = "kept"' not in lines  # still in the tree: the tree scan's
    ((kind, _, where),) = history_findings(lines)
    assert kind == "GitHub Token"
    added = subprocess.run(["git", "-C", str(tmp_path), "log", "--format=%h", "-1", "HEAD~1"],  # noqa: S603, S607
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where == f"commit {added}, tokens.py"  # where to find it; not the line, which holds the secret
    assert [kind for kind, *_ in history_findings({FAKE_SETTING: ""})] == ["Secret Keyword"]
    assert history_findings(dict.fromkeys(["a plain line", FAKE_AWS.rstrip() + "  # pragma: allowlist secret"], "")) == []


def test_a_shallow_clone_is_not_taken_for_a_clean_history(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert history_missing(tmp_path) == "not a git checkout: there is no history to scan"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{ROOT}", str(tmp_path / "clone")],  # noqa: S603, S607
                   check=True, capture_output=True)
    assert history_missing(tmp_path / "clone").startswith("a shallow clone")

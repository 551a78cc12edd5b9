"""`create_demo_users`: the two demo sign-ins that `make run` prints, and what the author may do."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User


@pytest.mark.django_db
def test_demo_users_sign_in_and_the_author_may_edit_and_export(settings):
    settings.DEBUG = True
    call_command("create_demo_users")
    call_command("create_demo_users")  # twice: resets, never duplicates

    assert User.objects.filter(email__in=["learner@example.com", "author@example.com"]).count() == 2
    learner = User.objects.get(email="learner@example.com")
    author = User.objects.get(email="author@example.com")
    assert learner.check_password("kratom-demo-2026") and author.check_password("kratom-demo-2026")
    assert not learner.is_staff and not learner.has_perm("lms.export_answer_keys")
    assert author.is_staff
    assert author.has_perms([
        "curriculum.change_lesson",
        "quizzes.change_item",
        "lms.export_answer_keys",
        "credits.export_credit_report",
    ])


@pytest.mark.django_db
def test_demo_users_are_refused_outside_development(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development only"):
        call_command("create_demo_users")
    assert not User.objects.filter(email="author@example.com").exists()

"""Data migrations keep what people were granted.

lms 0005 moves the credit report permission to credits, which owns the reports: a person or a
group holding `lms.export_credit_report` before must hold `credits.export_credit_report` after.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User

BEFORE = [("lms", "0004_linkrequest"), ("credits", "0003_certificate_feed_indexes")]
AFTER = [("lms", "0005_export_credit_report_permission")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_moving_the_credit_report_permission_keeps_every_grant():
    _migrate(BEFORE)
    try:
        old = Permission.objects.create(
            content_type_id=Permission.objects.get(codename="export_answer_keys").content_type_id,
            codename="export_credit_report", name="Can export credit reports (learner names, licence numbers)",
        )
        Permission.objects.filter(content_type__app_label="credits", codename="export_credit_report").delete()
        reporter, author = User.objects.create(email="reports@example.org"), User.objects.create(email="a@example.org")
        reporter.user_permissions.add(old)
        group = Group.objects.create(name="Report readers")
        group.permissions.add(old)
        member = User.objects.create(email="member@example.org")
        member.groups.add(group)
    finally:
        _migrate(AFTER)

    assert not Permission.objects.filter(content_type__app_label="lms", codename="export_credit_report").exists()
    for user in (reporter, member):
        user = User.objects.get(pk=user.pk)  # no cached permissions
        assert user.has_perm("credits.export_credit_report"), user.email
    assert not User.objects.get(pk=author.pk).has_perm("credits.export_credit_report")
    assert Group.objects.get(pk=group.pk).permissions.filter(codename="export_credit_report").count() == 1

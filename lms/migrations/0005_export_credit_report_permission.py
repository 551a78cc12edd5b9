# The credit report permission moves to credits (Claim.Meta), which owns the reports and whose
# report pages now require it too. Whoever held lms.export_credit_report, a person or a group,
# holds credits.export_credit_report afterwards; the old permission row is then deleted.

from django.conf import settings
from django.db import migrations

CODENAME = "export_credit_report"
NAME = "Can export credit reports (learner names, licence numbers)"


def move_grants(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    old = Permission.objects.filter(content_type__app_label="lms", codename=CODENAME).first()
    if old is None:  # a new database: post_migrate creates the new permission
        return
    claim_type, _ = ContentType.objects.get_or_create(app_label="credits", model="claim")
    new, _ = Permission.objects.get_or_create(content_type=claim_type, codename=CODENAME, defaults={"name": NAME})
    UserPermission = User.user_permissions.through
    GroupPermission = Group.permissions.through
    UserPermission.objects.bulk_create(
        [UserPermission(user_id=row.user_id, permission_id=new.pk) for row in UserPermission.objects.filter(permission=old)],
        ignore_conflicts=True,
    )
    GroupPermission.objects.bulk_create(
        [GroupPermission(group_id=row.group_id, permission_id=new.pk)
         for row in GroupPermission.objects.filter(permission=old)],
        ignore_conflicts=True,
    )
    old.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("lms", "0004_linkrequest"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("credits", "0004_export_credit_report_permission"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="exportjob",
            options={
                "ordering": ["-created_at", "-pk"],
                "permissions": [
                    ("export_answer_keys", "Can export packages that contain answer keys (QTI, offline SCORM)")
                ],
            },
        ),
        migrations.RunPython(move_grants, migrations.RunPython.noop),
    ]

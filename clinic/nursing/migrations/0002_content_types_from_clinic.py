"""The nursing models' content types move from app label "clinic" to "nursing" (issue 9).

Permissions hang on content types, so `clinic.add_observationround` becomes
`nursing.add_observationround` with the same row: role groups and users keep what they were
granted. Should a "nursing" content type exist already (post_migrate ran with the new app
before this migration), that row is kept and everything that pointed to the old one is
moved onto it.
"""

from django.db import migrations


def _move(apps, from_label, to_label):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    pointing_to_content_types = [
        (model, field.name)
        for model in apps.get_models()
        if model is not Permission
        for field in model._meta.fields
        if field.is_relation and field.related_model is ContentType
    ]
    for model in apps.get_app_config("nursing").get_models():
        name = model._meta.model_name
        old = ContentType.objects.filter(app_label=from_label, model=name).first()
        if old is None:
            continue
        new = ContentType.objects.filter(app_label=to_label, model=name).first()
        if new is None:
            old.app_label = to_label
            old.save(update_fields=["app_label"])
            continue
        for permission in Permission.objects.filter(content_type=old):
            twin = Permission.objects.filter(content_type=new, codename=permission.codename).first()
            if twin is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
            else:
                twin.group_set.add(*permission.group_set.all())
                twin.user_set.add(*permission.user_set.all())
                permission.delete()
        for other, field in pointing_to_content_types:  # e.g. admin log entries
            other.objects.filter(**{field: old}).update(**{field: new})
        old.delete()


def to_nursing(apps, schema_editor):
    _move(apps, "clinic", "nursing")


def to_clinic(apps, schema_editor):
    _move(apps, "nursing", "clinic")


class Migration(migrations.Migration):
    dependencies = [
        ("nursing", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(to_nursing, to_clinic)]

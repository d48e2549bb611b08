"""Django's createsuperuser, except that no weak password gets through.

Django validates the password only when it prompts for it, and even then offers to bypass
the validators; with --noinput (DJANGO_SUPERUSER_PASSWORD) it does not validate at all.
Here the validators (AUTH_PASSWORD_VALIDATORS) run on whatever password is about to be saved.
"""

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        # The user manager's create_superuser() is where every path of the command ends,
        # with the plain password: validated there for the length of this command.
        manager_class = type(self.UserModel._default_manager)
        create_superuser = manager_class.create_superuser
        user_model = self.UserModel

        def validated_create_superuser(manager, *args, **fields):
            password = fields.get("password")
            if password is not None:
                names = [user_model.USERNAME_FIELD, *user_model.REQUIRED_FIELDS]
                candidate = user_model(**{name: fields.get(name) for name in names})
                validate_password(password, candidate)  # the command reports ValidationError
            return create_superuser(manager, *args, **fields)

        manager_class.create_superuser = validated_create_superuser
        try:
            return super().handle(*args, **options)
        finally:
            manager_class.create_superuser = create_superuser

"""Django's createsuperuser, except that no weak password gets through.

Django validates the password only when it prompts for it, and even then offers to bypass
the validators; with --noinput (DJANGO_SUPERUSER_PASSWORD) it does not validate at all.
Here the validators (AUTH_PASSWORD_VALIDATORS) run on whatever password is about to be saved.
"""

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.db.models.signals import pre_save


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        def refuse_weak_password(sender, instance, **kwargs):
            # set_password() keeps the plain password on the instance until it is saved.
            password = getattr(instance, "_password", None)
            if password is not None:
                validate_password(password, instance)  # the command reports ValidationError

        pre_save.connect(refuse_weak_password, sender=self.UserModel, weak=False)
        try:
            return super().handle(*args, **options)
        finally:
            pre_save.disconnect(refuse_weak_password, sender=self.UserModel)

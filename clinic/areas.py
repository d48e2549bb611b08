"""The areas built on the clinic core, each a Django app of its own.

The core names none of them. An installed app takes part by setting `clinic_area = True` on
its AppConfig; the core then asks each area, in INSTALLED_APPS order, for what it offers:

- `<app>.roles.ROLE_PERMISSIONS`: the permissions it adds to each staff role;
- `<app>.urls`: its pages and API, included at the site root;
- `<app>.privacy`: its part of a patient's data export and anonymisation (clinic.privacy);
- `<app>.demo.seed()`, and `seed_late()` for appointments later areas' demos add;
- templates `<app label>/nav.html` (everyday pages, in the bar), `nav_worklists.html`,
  `nav_manage.html` and `nav_account.html` (dropdown items of the bar's "Worklists",
  "Clinic" and account menus), `home_cards.html`,
  `patient_actions.html`, `patient_sections.html`, `appointment_actions.html`,
  `appointment_sections.html` (cards under an appointment's details), `board_card.html`
  (on an appointment's card of the scheduling boards) and `physician_day.html` (above a
  physician's day, with `schedule`): its part of shared pages
  (`{% area_includes %}` in clinic.templatetags.areas).
"""

from importlib import import_module

from django.apps import AppConfig, apps
from django.utils.module_loading import module_has_submodule


def areas() -> list[AppConfig]:
    return [config for config in apps.get_app_configs() if getattr(config, "clinic_area", False)]


def area_modules(submodule: str) -> list:
    """Each area's `<app>.<submodule>` module, for the areas that have one."""
    return [
        import_module(f"{config.name}.{submodule}")
        for config in areas()
        if module_has_submodule(config.module, submodule)
    ]

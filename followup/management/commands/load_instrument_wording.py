"""Load the licensed ODI / NDI item wording from a JSON file (at deployment).

The wording is copyright (licensed by Mapi Research Trust), so it is not shipped; without
it the survey shows the section titles with a generic 0-5 scale. File format:

    [
      {"instrument": "odi", "language": "da",
       "sections": [{"id": "pain_intensity", "title": "...", "options": ["...", x 6]}, ...]},
      ...
    ]

`options` are the six answer texts for scores 0 to 5. Section ids are those of
followup.scoring (ODI_SECTIONS, NDI_SECTIONS). Loading is all or nothing and may be
repeated: existing rows are updated.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from clinic.models import Patient
from followup.models import InstrumentWording
from followup.scoring import NDI_SECTIONS, ODI_SECTIONS

SECTIONS = {"odi": ODI_SECTIONS, "ndi": NDI_SECTIONS}


def _text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def parse(data) -> list[dict]:
    """The wording rows of a loaded file; raises CommandError naming the first problem."""
    if not isinstance(data, list):
        raise CommandError("The file must hold a list of {instrument, language, sections}.")
    rows = []
    for number, block in enumerate(data, start=1):
        where = f"entry {number}"
        if not isinstance(block, dict):
            raise CommandError(f"{where}: expected an object.")
        instrument, language = block.get("instrument"), block.get("language")
        if instrument not in SECTIONS:
            raise CommandError(f"{where}: instrument must be one of {', '.join(SECTIONS)}.")
        if language not in Patient.Language.values:
            raise CommandError(
                f"{where}: language must be one of {', '.join(Patient.Language.values)}."
            )
        known = {section_id for section_id, _title in SECTIONS[instrument]}
        sections = block.get("sections")
        if not isinstance(sections, list) or not sections:
            raise CommandError(f"{where} ({instrument}/{language}): 'sections' must be a list.")
        for section in sections:
            section_id = section.get("id") if isinstance(section, dict) else None
            label = f"{instrument}/{language} section {section_id!r}"
            if section_id not in known:
                raise CommandError(f"{label}: unknown section id; use one of {sorted(known)}.")
            if not _text(section.get("title")):
                raise CommandError(f"{label}: 'title' must be a non-empty text.")
            options = section.get("options")
            if not isinstance(options, list) or len(options) != 6 or not all(map(_text, options)):
                raise CommandError(f"{label}: 'options' must be six texts, for scores 0 to 5.")
            rows.append(
                {
                    "instrument": instrument,
                    "section": section_id,
                    "language": language,
                    "title": section["title"].strip(),
                    "options": [option.strip() for option in options],
                }
            )
    return rows


class Command(BaseCommand):
    help = "Load licensed ODI/NDI item wording from a JSON file into InstrumentWording."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the JSON file with the licensed wording.")

    def handle(self, *args, file, **options):
        try:
            with open(file, encoding="utf-8") as handle:
                data = json.load(handle)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}.") from None
        rows = parse(data)
        created = updated = 0
        with transaction.atomic():
            for row in rows:
                _obj, was_created = InstrumentWording.objects.update_or_create(
                    instrument=row["instrument"],
                    section=row["section"],
                    language=row["language"],
                    defaults={"title": row["title"], "options": row["options"]},
                )
                created += was_created
                updated += not was_created
        self.stdout.write(f"Instrument wording loaded: {created} created, {updated} updated.")

"""Demo data of this area for `seed_demo` (idempotent)."""


def seed() -> dict:
    return {}

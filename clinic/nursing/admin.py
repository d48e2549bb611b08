"""Admin of the perioperative record."""

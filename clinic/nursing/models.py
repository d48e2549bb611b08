"""The perioperative (nursing) record: checklists, observation rounds, discharge."""

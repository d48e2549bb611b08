"""Staff accounts: lockout, second factor, staff and role management, API tokens.

Part of the clinic app (no models of its own): the audit rows are clinic's AuditEvent, the
devices are django-otp's, the lockout counts django-axes' and the tokens django-rest-knox's.
"""

"""One refusal contract: a rule refuses a valid request, and says why.

Every service refusal subclasses `Refused`. Pages show its messages as they see fit; the API
answers every one alike (409, see clinic/api_errors.py). Bad input is not a refusal: it stays
a validation error (400).
"""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """One reason for a refusal: a stable `code` for programs, a `message` for people.

    A safety stop also says which stop it is (`stop`, e.g. a checklist item's code) and
    whether a physician may override it with a reason (`overridable`).
    """

    code: str
    message: str
    stop: str = ""
    overridable: bool | None = None


class Refused(Exception):
    """A request that a rule refuses.

    `reasons` say each why; text given instead of a Reason takes `code` (the class's by
    default). `detail` is the headline (the first reason unless given). `alternatives` are
    what could be done instead, e.g. free slots; the API view says how to show them.
    """

    code = "refused"

    def __init__(
        self,
        reasons: str | Reason | Iterable[str | Reason],
        *,
        code: str = "",
        detail: str = "",
        alternatives: Iterable = (),
    ):
        if isinstance(reasons, str | Reason):
            reasons = [reasons]
        self.reasons = [
            r if isinstance(r, Reason) else Reason(code or self.code, str(r)) for r in reasons
        ]
        self.detail = detail or (self.reasons[0].message if self.reasons else "")
        self.alternatives = list(alternatives)
        super().__init__(self.detail)

    @property
    def messages(self) -> list[str]:
        return [r.message for r in self.reasons]

    def __str__(self) -> str:
        # The headline, then every reason it does not already say.
        return " ".join([self.detail, *(m for m in self.messages if m not in self.detail)])

"""The records validation produces: an `Error` or a `Warning` (each an `Issue`), and a `Validation` of both."""

import attr

from pysoa.schema.constants import ERROR_CODE_INVALID, WARNING_CODE_WARNING

__all__ = ('Error', 'Issue', 'Validation', 'Warning')


# Mutable on purpose: containers prefix the pointer of their members' issues in place, as Conformity does.
@attr.s(slots=True)
class Issue:
    """Something found while validating a value: a message and where (`pointer`, dotted keys and indexes)."""

    message: str = attr.ib()
    pointer: str | None = attr.ib(default=None)


@attr.s(slots=True)
class Error(Issue):
    """A reason the value is invalid, with its code (`INVALID`, `MISSING` or `UNKNOWN`)."""

    code: str = attr.ib(default=ERROR_CODE_INVALID)


@attr.s(slots=True)
class Warning(Issue):  # Conformity's public name
    """Something worth telling about a valid value, such as the use of a deprecated field."""

    code: str = attr.ib(default=WARNING_CODE_WARNING)


@attr.s(slots=True)
class Validation:
    """The errors and warnings of one value; true when there are errors."""

    errors: list[Error] = attr.ib(factory=list)
    warnings: list[Warning] = attr.ib(factory=list)

    def __bool__(self) -> bool:
        return bool(self.errors)

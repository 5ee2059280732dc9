"""Errors the domain layer raises for the user to read (never a stack trace)."""


class DomainError(ValueError):
    """Invalid input or a broken business rule; the message is shown as is."""


class NotFound(DomainError):
    """A missing object, or another tenant's: the two must look the same."""

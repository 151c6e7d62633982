"""The base of every error a user can act on: the CLI prints its message, no traceback, exit 1."""


class ScreenrecallError(Exception):
    """A failure with a message that says what is wrong and what to do."""

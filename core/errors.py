"""Errors that mean "the user asked for something we cannot do".

Anything raised as a :class:`UserError` (or a subclass) is shown to the person as a
one-line message: the CLI prints it on stderr and exits 2, the app shows it as a
``gr.Error``. Any other exception is a bug and keeps its traceback.
"""


class UserError(ValueError):
    """Bad input from a person or an API client; the message is shown verbatim."""


class ImageInputError(UserError):
    """An image could not be accepted: unreadable, too large, not an image, ..."""


class UnavailableError(UserError):
    """A capability that is not installed or not configured (a backend, a model)."""


class PluginError(RuntimeError):
    """A plugin misbehaved while registering or running; recorded, never fatal."""


class JobError(RuntimeError):
    """A plugin failed while doing a job. Shown as a one-line message (the app
    keeps serving, the CLI exits 1); the traceback goes to the log."""

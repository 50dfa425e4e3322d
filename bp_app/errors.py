"""Errors that name the problem and the fix; the command-line entry points print them plainly."""


class BPAppError(Exception):
    """A problem the user can fix: the message says what is wrong, where, and how to fix it."""


class ConfigError(BPAppError):
    """A configuration value or key that bp_app cannot use."""


class DataError(BPAppError):
    """A data set that is missing, corrupt or unusable."""

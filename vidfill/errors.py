"""The one exception type the command line turns into a one-line message."""


class VidfillError(Exception):
    """A problem with the user's input or output, phrased for the user.

    The message names the file and the problem in one line; the CLI prints it
    as ``vidfill: error: <message>`` and exits with status 2.
    """


class ConfigError(VidfillError, ValueError):
    """A setting out of range, of the wrong type or unknown, wherever it came from (preset, CLI
    option, ``--set``, Python call). A ValueError too, as a library user expects."""

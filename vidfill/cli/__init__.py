"""The command line, a thin layer over :mod:`vidfill.job`: ``main`` dispatches the sub-commands
(:mod:`vidfill.cli.main`), ``fill`` and ``batch`` share :mod:`vidfill.cli.options`."""

"""The `zerogate` command line: `policy validate|test|explain|fmt`, `up` and `serve ROLE`."""

from zerogate.cli._app import app, main
from zerogate.cli._output import ExitCode

__all__ = ["ExitCode", "app", "main"]

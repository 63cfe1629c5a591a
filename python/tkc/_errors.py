"""The exceptions of the tkc package (docs/python.md, "Errors")."""


class Error(Exception):
    """Base class of every error the tkc package raises about tkc itself."""


class StatusError(Error):
    """A tk_status returned by libtkrt (tk/status.h).

    message   the runtime's message, as tkrun prints it after "tkrun: error: "
    code      the tk_status_code value (1 = INVALID_ARGUMENT, ...)
    code_name its name ("INVALID_ARGUMENT", "NOT_FOUND", "UNAVAILABLE", ...)
    location  "file.c:line" in libtkrt where the error was made
    """

    def __init__(self, message, code, code_name, location):
        super().__init__(f"{code_name}: {message}")
        self.message = message
        self.code = code
        self.code_name = code_name
        self.location = location


class NotFoundError(Error):
    """libtkrt or the tkc executable cannot be found; `tried` lists where it looked."""

    def __init__(self, message, tried):
        super().__init__(message)
        self.tried = list(tried)


class CompileError(Error):
    """The tkc executable failed: its exit code, its stderr and the command line."""

    def __init__(self, returncode, stderr, command):
        super().__init__(f"tkc exited with {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr
        self.command = list(command)

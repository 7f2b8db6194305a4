"""The export's one error type."""


class ExportError(ValueError):
    """A selection or an output the user must fix. ``field`` names the input at fault, ``message`` says what is
    wrong in a sentence (shown as is on the page, the command line and the API)."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message

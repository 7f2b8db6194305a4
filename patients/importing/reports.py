"""What an import found: its problems (row, column, reason) and its report."""
from dataclasses import dataclass, field


class ImportFileError(Exception):
    """The file cannot be read on from ``row`` (the header is row 1; 0: the file as a whole): wrong format, an
    undecodable byte, a broken CSV structure. ``message`` names what is wrong, never a value of the file."""

    def __init__(self, message, row=1, column=""):
        super().__init__(message)
        self.message, self.row, self.column = message, row, column


@dataclass
class Problem:
    """One problem of an import: row number (the header is row 1; 0 = not a row of the file but an option of the
    import, named in ``column``), column and reason."""

    row: int
    column: str
    message: str

    def __str__(self):
        if not self.row:
            return f"{self.column or 'import'}: {self.message}"
        where = f"row {self.row}" + (f", column '{self.column}'" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    filename: str
    sha256: str
    rows: int = 0
    dry_run: bool = False
    problems: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    kind: str = "clinical"  # ImportRun.Kind
    run_id: int | None = None  # the ImportRun row, once recorded

    @property
    def ok(self):
        return not self.problems

    @property
    def applied(self):
        return self.ok and not self.dry_run

    def count(self, what, outcome, n=1):
        if n:
            key = f"{what} {outcome}"
            self.counts[key] = self.counts.get(key, 0) + n

    def summary_lines(self):
        lines = [f"{self.rows} data rows read from {self.filename}."]
        for key in sorted(self.counts):
            lines.append(f"  {key}: {self.counts[key]}")
        return lines


class RowError(Exception):
    """A value of one row is wrong: its column and the reason (raised by the parsers)."""

    def __init__(self, column, message):
        super().__init__(message)
        self.column, self.message = column, message


class RowValidationError(Exception):
    def __init__(self, problems):
        super().__init__(problems)
        self.problems = problems


def validation_problems(number, exc, field_columns, default_column=""):
    """The problems of a model's ValidationError on row ``number``, each on the column of its field."""
    problems = []
    for name, messages in exc.message_dict.items():
        column = field_columns.get(name, default_column)
        for message in messages:
            problems.append(Problem(number, column, message))
    return problems

"""The one error ingest raises: a message a shop manager can act on, never a traceback."""
from __future__ import annotations


class IngestError(Exception):
    def __init__(self, file: str, message: str, column: str | None = None,
                 examples: list[tuple[int, str]] | None = None, unrecognised: bool = False,
                 remedy: str = ""):
        self.file, self.column, self.examples = file, column, examples or []
        # True when the columns match no table: the Data page then offers a column mapping.
        self.unrecognised = unrecognised
        # Statuses the dashboard does not know, in a file read by its columns: the Data page
        # then offers to map them, with the file's table and columns (canonical → header).
        self.statuses: list[str] = []
        self.table: str | None = None
        self.columns: dict[str, str] = {}
        # What to do, for the command line; the Data page says its own, as what it names
        # ("on the Data page") is then the page the manager is on.
        self.remedy = remedy
        text = f"{file}: "
        if column:
            text += f"column '{column}': "
        text += message
        if self.examples:
            shown = ", ".join(f"row {r}: {_show(v)}" for r, v in self.examples[:5])
            text += f" For example {shown}."
        self.said = text   # without the remedy
        super().__init__(f"{text} {remedy}" if remedy else text)


def _show(value) -> str:
    s = "(empty)" if value is None else str(value)
    return repr(s if len(s) <= 60 else s[:57] + "...")

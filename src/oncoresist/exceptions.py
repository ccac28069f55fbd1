"""Typed errors. Each subclasses the builtin a caller would expect to catch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

#: How many problems an error message lists before summarising the rest.
MAX_PROBLEMS_SHOWN = 20


class OncoresistError(Exception):
    """Base class of every error raised on purpose by oncoresist."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as the user sees it.

    Attributes
    ----------
    source : str
        File (or table) the problem is in.
    row : int or None
        Line number in that file as a text editor shows it (header = line 1), or None when
        the problem concerns the whole file or column.
    column : str or None
        Column name, or None when the problem concerns a whole row or file.
    value : str
        The offending value, shortened for display.
    reason : str
        What is wrong.
    fix : str
        How to fix it.
    """

    source: str
    row: int | None
    column: str | None
    value: str
    reason: str
    fix: str = ""

    def as_dict(self) -> dict[str, object]:
        """Return the problem as a plain dict (one row of a problems CSV)."""
        return asdict(self)

    def __str__(self) -> str:
        where = self.source
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        text = f"{where}: {self.reason}"
        if self.value != "":
            text += f" (value: {self.value!s})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


def rejected_row_count(problems: list[Problem]) -> int:
    """Input rows the problems reject: a row with several problems counts once."""
    return len({(p.source, p.row) for p in problems})


class InputDataError(OncoresistError, ValueError):
    """Input data break the data contract.

    Carries every problem found (validation is lazy), so a user fixes a file in one pass.
    """

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        self.problems: list[Problem] = list(problems)
        self.summary = message
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.problems:
            return self.summary
        shown = self.problems[:MAX_PROBLEMS_SHOWN]
        lines = [f"{self.summary} ({len(self.problems)} problem(s)):"]
        lines += [f"  {i}. {p}" for i, p in enumerate(shown, start=1)]
        if len(self.problems) > len(shown):
            lines.append(
                f"  ... and {len(self.problems) - len(shown)} more "
                "(write them all with --problems FILE)"
            )
        return "\n".join(lines)


class UnknownDrugError(InputDataError):
    """A drug name is not in the drug catalogue."""


class ModelLoadError(OncoresistError, RuntimeError):
    """A model reference cannot be resolved or loaded."""


class OutputExistsError(OncoresistError, FileExistsError):
    """The output exists and ``--overwrite`` was not given (a usage error, exit code 2)."""


class ConfigError(OncoresistError, ValueError):
    """A configuration or parameter file is invalid."""


class TrainingDataError(InputDataError):
    """A cohort cannot train a model (e.g. everything censored, too few labels)."""

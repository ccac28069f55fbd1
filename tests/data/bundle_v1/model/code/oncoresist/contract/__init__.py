"""The data contract: canonical tables, their schemas, and the labels every module shares.

This is the one place that names columns, dtypes and label sets. Readers (``io``) map every
input form into these tables; everything downstream trusts them.

Validation is lazy: every problem in a table is collected, then one
:class:`~oncoresist.exceptions.InputDataError` lists them all with file, row as the user sees
it, column, value and a fix.
"""

from oncoresist.contract.cohort import (
    Cohort,
    baseline_samples,
    empty_table,
    validate_cohort,
)
from oncoresist.contract.expression import (
    LOG2_TPM_MAX,
    expression_scale_problems,
    validate_expression,
)
from oncoresist.contract.schema import (
    ASSAYS,
    BASELINE,
    CN_STATES,
    COLUMNS,
    EXPRESSION_SCALES,
    FIXES,
    KEYS,
    MECHANISMS,
    OPTIONAL_TABLES,
    SCHEMAS,
    TABLES,
    TIMEPOINTS,
    ExpressionScale,
)
from oncoresist.contract.validate import validate_table

__all__ = [
    "ASSAYS",
    "BASELINE",
    "CN_STATES",
    "COLUMNS",
    "EXPRESSION_SCALES",
    "FIXES",
    "KEYS",
    "LOG2_TPM_MAX",
    "MECHANISMS",
    "OPTIONAL_TABLES",
    "SCHEMAS",
    "TABLES",
    "TIMEPOINTS",
    "Cohort",
    "ExpressionScale",
    "baseline_samples",
    "empty_table",
    "expression_scale_problems",
    "validate_cohort",
    "validate_expression",
    "validate_table",
]

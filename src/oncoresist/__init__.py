"""oncoresist: predict how a tumour escapes a targeted therapy.

Research use only. Predictions are not a medical device and must not guide the care of a
patient.
"""

__version__ = "0.1.0"

RESEARCH_USE_NOTICE = (
    "Research use only: oncoresist predictions are not a medical device and must not be used "
    "to make clinical decisions."
)

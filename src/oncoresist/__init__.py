"""oncoresist: predict how a tumour escapes a targeted therapy.

Research use only. Predictions are not a medical device and must not guide the care of a
patient.
"""

import os

__version__ = "0.2.0"

RESEARCH_USE_NOTICE = (
    "Research use only: oncoresist predictions are not a medical device and must not be used "
    "to make clinical decisions."
)

# XGBoost's OpenMP threads busy-wait between parallel regions unless told otherwise. On a
# machine whose cores are shared (2-core CI, Dask workers beside the client, a test run next
# to other jobs) the spinning threads starve each other: a mechanism fit measured 770 ms per
# boosting round spinning against 28 ms passive, under the same load. The runtime reads this
# once, when xgboost is first imported, which in oncoresist is always after this line (the
# heavy libraries are imported lazily). A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

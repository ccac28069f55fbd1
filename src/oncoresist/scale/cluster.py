"""Connecting to a Dask cluster: an existing scheduler, or a ``LocalCluster`` sized to the machine.

The scale-out engine (``--engine dask``) runs the same library functions as the
single-machine path; this module only decides *where* they run. Dask is an optional
dependency (``pip install 'oncoresist[dask]'``): nothing here imports it at module import.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from oncoresist.exceptions import ConfigError

ENGINES = ("local", "dask")
INSTALL_HINT = "install the optional extra: pip install 'oncoresist[dask]'"


def require_dask() -> None:
    """Raise a :class:`ConfigError` naming the fix when dask.distributed is missing."""
    try:
        import dask.dataframe  # noqa: F401, PLC0415
        import distributed  # noqa: F401, PLC0415
    except ImportError as err:
        raise ConfigError(
            f"--engine dask needs dask and distributed ({err}); {INSTALL_HINT}"
        ) from err


def check_engine(engine: str) -> str:
    """The engine name, validated (``local`` or ``dask``)."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


def machine_workers() -> int:
    """Worker processes for a local cluster: one per core this process may use.

    One single-threaded process per core, because feature building and SHAP text
    formatting hold the GIL; XGBoost itself gets one thread per worker (the nanny sets
    ``OMP_NUM_THREADS=1``).
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def dask_client(
    scheduler: str | None = None, n_workers: int | None = None, client: Any = None
) -> Iterator[Any]:
    """Yield a ``distributed.Client``.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://HOST:8786``). Without it a
        ``LocalCluster`` of ``n_workers`` single-threaded worker processes is started and
        closed at the end.
    n_workers : int, optional
        Workers of the local cluster (default: :func:`machine_workers`).
    client : distributed.Client, optional
        An existing client, used as is and left open (tests, notebooks).
    """
    require_dask()
    from distributed import Client, LocalCluster  # noqa: PLC0415

    if client is not None:
        yield client
        return
    if scheduler:
        with Client(scheduler) as connected:
            yield connected
        return
    workers = n_workers or machine_workers()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as local,
    ):
        yield local

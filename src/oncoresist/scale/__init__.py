"""Scale-out with Dask: cluster, partitions, distributed scoring and training."""

"""MLflow: store, runs, registry, pyfunc model, bundle files and provenance."""

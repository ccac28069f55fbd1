"""Command-line interface (typer + rich): thin over pipelines; the only place that prints."""

"""Every file read or written: input forms, tables, YAML, score files, public data sets."""

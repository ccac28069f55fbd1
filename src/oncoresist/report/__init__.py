"""HTML review report: renders scores and explanations it is given (jinja2)."""

"""Knowledge base: drug catalogue, known resistance alterations, expression programs."""

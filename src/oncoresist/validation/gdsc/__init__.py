"""GDSC drug-response benchmark: per-drug and pan-drug models, tissue prior, LOTO."""

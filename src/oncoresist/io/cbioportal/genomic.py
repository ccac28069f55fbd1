"""cBioPortal genomic files → mutations, copy_number, fusions, expression, gene panels."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.contract import LOG2_TPM_MAX, empty_table, validate_expression, validate_table
from oncoresist.contract.alterations import normalise_fusion_variant, normalise_protein_change
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.io.cbioportal.tables import (
    DuplicateGeneWarning,
    col,
    number,
    read_cbio_table,
    read_meta,
    relabel,
    require_columns,
)

__all__ = [
    "FILTERED_CLASSIFICATIONS",
    "read_cna",
    "read_expression_matrix",
    "read_gene_panels",
    "read_mutations",
    "read_sv",
]

#: cBioPortal's default ``variant_classification_filter`` (TERT promoter 5'Flank kept).
FILTERED_CLASSIFICATIONS = frozenset(
    {"Silent", "Intron", "IGR", "3'UTR", "5'UTR", "3'Flank", "5'Flank"}
)
_MATRIX_ID_COLUMNS = {"HUGO_SYMBOL", "ENTREZ_GENE_ID", "CYTOBAND", "DESCRIPTION"}


def _raise(problems: list[Problem], source: str) -> None:
    if problems:
        raise InputDataError(f"{source} breaks the data contract", problems)


def read_mutations(paths: list[Path], known: set[str], notes: list[str]) -> pd.DataFrame:
    """Read MAF files; skip filtered classifications and unknown samples (counted)."""
    frames, problems = [], []
    for path in paths:
        try:
            frames.append(_read_maf(path, known, notes))
        except InputDataError as err:
            problems += err.problems
    _raise(problems, "mutations")
    if not frames:
        return empty_table("mutations")
    return pd.concat(frames, ignore_index=True)


def _read_maf(path: Path, known: set[str], notes: list[str]) -> pd.DataFrame:
    source = path.name
    frame = read_cbio_table(path)
    _raise(require_columns(frame, source, "Hugo_Symbol", "Tumor_Sample_Barcode"), source)
    c = {k: col(frame, *n) for k, n in {
        "gene": ("Hugo_Symbol",), "sample": ("Tumor_Sample_Barcode",),
        "hgvsp": ("HGVSp_Short",), "fallback": ("Amino_Acid_Change", "Protein_Change"),
        "klass": ("Variant_Classification",), "vaf": ("tumor_vaf",),
        "alt": ("t_alt_count",), "ref": ("t_ref_count",),
    }.items()}  # fmt: skip
    problems: list[Problem] = []
    rows, lines = [], []
    skipped = {"filtered": 0, "unknown_gene": 0, "unknown_sample": 0}
    for line, rec in zip(frame.index, frame.to_dict("records"), strict=True):
        get = lambda key, rec=rec: rec[c[key]] if c[key] is not None else None  # noqa: E731
        gene, klass = get("gene"), get("klass")
        if gene is None or str(gene).upper() == "UNKNOWN":
            skipped["unknown_gene"] += 1
            continue
        if klass in FILTERED_CLASSIFICATIONS and not (
            str(gene).upper() == "TERT" and klass == "5'Flank"
        ):
            skipped["filtered"] += 1
            continue
        if get("sample") not in known:
            skipped["unknown_sample"] += 1
            continue
        column = c["hgvsp"] if get("hgvsp") is not None else c["fallback"]
        text = get("hgvsp") if get("hgvsp") is not None else get("fallback")
        try:
            change = normalise_protein_change(text)
        except ValueError as err:
            problems.append(
                Problem(
                    source, int(line), column, str(text), str(err), "use short HGVS, e.g. p.L858R"
                )
            )
            continue
        vaf, vaf_problem = _vaf(get("vaf"), get("alt"), get("ref"))
        if vaf_problem:
            problems.append(
                Problem(
                    source,
                    int(line),
                    c[vaf_problem],
                    str(get(vaf_problem)),
                    "not a number",
                    "use read counts / a fraction in [0, 1]",
                )
            )
            continue
        rows.append(
            {
                "sample_id": get("sample"),
                "gene": gene,
                "protein_change": change,
                "variant_class": klass,
                "vaf": vaf,
            }
        )
        lines.append(int(line))
    _raise(problems, source)
    if skipped["filtered"]:
        notes.append(
            f"{source}: {skipped['filtered']} silent/non-coding variant(s) skipped "
            "(cBioPortal's default filter: " + ", ".join(sorted(FILTERED_CLASSIFICATIONS)) + ")"
        )
    if skipped["unknown_gene"]:
        notes.append(f"{source}: {skipped['unknown_gene']} row(s) with no gene symbol skipped")
    if skipped["unknown_sample"]:
        notes.append(
            f"{source}: {skipped['unknown_sample']} row(s) for samples absent from "
            "the clinical sample file skipped"
        )
    table = pd.DataFrame(rows, columns=list(empty_table("mutations").columns), dtype=object)
    try:
        return validate_table(table, "mutations", source, line_numbers=lines)
    except InputDataError as err:
        vaf = c["vaf"] or f"{c['alt'] or 't_alt_count'}, {c['ref'] or 't_ref_count'}"
        names = {
            "sample_id": c["sample"],
            "gene": c["gene"],
            "vaf": vaf,
            "protein_change": c["hgvsp"] or c["fallback"],
            "variant_class": c["klass"],
        }
        raise InputDataError(err.summary, relabel(err, names)) from None


def _vaf(direct: object, alt: object, ref: object) -> tuple[float | None, str | None]:
    """VAF from a ``tumor_vaf`` cell, else alt / (alt + ref); (value, bad column name)."""
    try:
        value = number(direct)
    except ValueError:
        return None, "vaf"
    if value is not None:
        return value, None
    try:
        n_alt = number(alt)
    except ValueError:
        return None, "alt"
    try:
        n_ref = number(ref)
    except ValueError:
        return None, "ref"
    if n_alt is None or n_ref is None or n_alt + n_ref <= 0:
        return None, None
    return n_alt / (n_alt + n_ref), None


def _matrix(path: Path, known: set[str], notes: list[str], what: str):
    """Read a gene × sample matrix: (frame, gene column, sample columns)."""
    source = path.name
    frame = read_cbio_table(path)
    _raise(require_columns(frame, source, "Hugo_Symbol"), source)
    gene_col = col(frame, "Hugo_Symbol")
    samples = [c for c in frame.columns if str(c).upper() not in _MATRIX_ID_COLUMNS]
    unknown = [s for s in samples if s not in known]
    if unknown:
        notes.append(
            f"{source}: {len(unknown)} sample column(s) absent from the clinical "
            f"sample file skipped ({', '.join(unknown[:5])})"
        )
    no_gene = int(frame[gene_col].isna().sum())
    if no_gene:
        notes.append(f"{source}: {no_gene} {what} row(s) with no Hugo_Symbol skipped")
    frame = frame[frame[gene_col].notna()]
    return frame, gene_col, [s for s in samples if s in known]


def read_cna(path: Path | None, known: set[str], notes: list[str]) -> pd.DataFrame:
    """Read a discrete CNA matrix into long copy_number rows; neutral (0) calls implicit."""
    if path is None:
        return empty_table("copy_number")
    frame, gene_col, samples = _matrix(path, known, notes, "gene")
    problems, rows, lines, neutral = [], [], [], 0
    for line, rec in zip(frame.index, frame.to_dict("records"), strict=True):
        for sample in samples:
            try:
                value = number(rec[sample])
            except ValueError:
                problems.append(
                    Problem(
                        path.name,
                        int(line),
                        sample,
                        str(rec[sample]),
                        "not a copy-number call",
                        "use -2, -1, 0, 1 or 2 (NA when not profiled)",
                    )
                )
                continue
            if value is None:
                continue
            if value == 0:
                neutral += 1
                continue
            rows.append({"sample_id": sample, "gene": rec[gene_col], "cn_state": value})
            lines.append(int(line))
    _raise(problems, path.name)
    if neutral:
        notes.append(
            f"{path.name}: {neutral} neutral (0) call(s) not listed (neutral is "
            "the default for a profiled gene)"
        )
    table = pd.DataFrame(rows, columns=["sample_id", "gene", "cn_state"], dtype=object)
    return validate_table(table, "copy_number", path.name, line_numbers=lines)


_VARIANT_IN_TEXT = re.compile(
    r"\(variant ([^)]+)\)|\b(v(?:ar(?:iant)?)?\s*\.?\s*\d+[a-z]?)\b", re.IGNORECASE
)


def _fusion_variant(text: str) -> str | None:
    match = _VARIANT_IN_TEXT.search(text)
    if not match:
        return None
    return normalise_fusion_variant(match.group(1) or match.group(2))


def read_sv(path: Path | None, known: set[str], notes: list[str]) -> pd.DataFrame:
    """Read ``data_sv.txt``: somatic two-gene events become fusions (5' gene first).

    Orientation: when ``Event_Info`` / ``Annotation`` names the pair as ``A-B`` that order is
    used; otherwise Site1 is taken as the 5' partner. The variant (e.g. ``v3``) is read from
    the same text.
    """
    if path is None:
        return empty_table("fusions")
    frame = read_cbio_table(path)
    _raise(require_columns(frame, path.name, "Sample_Id"), path.name)
    c = {k: col(frame, *n) for k, n in {
        "sample": ("Sample_Id",), "g1": ("Site1_Hugo_Symbol",), "g2": ("Site2_Hugo_Symbol",),
        "status": ("SV_Status",), "info": ("Event_Info",), "note": ("Annotation",),
    }.items()}  # fmt: skip
    rows, lines = [], []
    skipped = {"germline": 0, "not_fusion": 0, "unknown_sample": 0}
    for line, rec in zip(frame.index, frame.to_dict("records"), strict=True):
        get = lambda key, rec=rec: rec[c[key]] if c[key] is not None else None  # noqa: E731
        if str(get("status") or "").upper() == "GERMLINE":
            skipped["germline"] += 1
            continue
        g1, g2 = get("g1"), get("g2")
        if g1 is None or g2 is None or str(g1).upper() == str(g2).upper():
            skipped["not_fusion"] += 1
            continue
        if get("sample") not in known:
            skipped["unknown_sample"] += 1
            continue
        text = " ".join(str(t) for t in (get("info"), get("note")) if t)
        five, three = g1, g2
        if f"{g2}-{g1}".upper() in text.upper() and f"{g1}-{g2}".upper() not in text.upper():
            five, three = g2, g1
        rest = re.sub(re.escape(f"{five}-{three}"), " ", text, flags=re.IGNORECASE)
        rows.append(
            {
                "sample_id": get("sample"),
                "gene_5p": five,
                "gene_3p": three,
                "variant": _fusion_variant(rest) if text else None,
            }
        )
        lines.append(int(line))
    labels = {
        "germline": "germline event(s)",
        "not_fusion": "event(s) that are not two-gene fusions",
        "unknown_sample": "event(s) for samples absent from the clinical file",
    }
    for key, count in skipped.items():
        if count:
            notes.append(f"{path.name}: {count} {labels[key]} skipped")
    table = pd.DataFrame(rows, columns=["sample_id", "gene_5p", "gene_3p", "variant"], dtype=object)
    return validate_table(table, "fusions", path.name, line_numbers=lines)


def _read_panel_file(path: Path) -> tuple[str, list[str]]:
    meta = read_meta(path)
    stable_id = meta.get("stable_id")
    genes = [g.strip().upper() for g in re.split(r"[\t ,;]+", meta.get("gene_list", ""))]
    genes = [g for g in genes if g]
    if not stable_id or not genes:
        raise InputDataError(
            f"{path.name} is not a gene panel file",
            [
                Problem(
                    path.name,
                    None,
                    "stable_id" if not stable_id else "gene_list",
                    "",
                    "missing",
                    "write 'stable_id: <panel>' and 'gene_list: GENE<TAB>GENE...'",
                )
            ],
        )
    return stable_id, genes


def read_gene_panels(
    files: Any, samples: pd.DataFrame, notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Gene panels and each sample's panel (the ``mutations`` profile's panel first)."""
    problems: list[Problem] = []
    panel_rows: list[dict[str, str]] = []
    for path in files.panels:
        try:
            stable_id, genes = _read_panel_file(path)
        except InputDataError as err:
            problems += err.problems
            continue
        panel_rows += [{"panel_id": stable_id, "gene": g} for g in dict.fromkeys(genes)]
    defined = {r["panel_id"] for r in panel_rows}
    panel_of: dict[str, str] = {}
    if files.panel_matrix is not None:
        matrix = read_cbio_table(files.panel_matrix)
        problems += require_columns(matrix, files.panel_matrix.name, "SAMPLE_ID")
        if not problems:
            sid = col(matrix, "SAMPLE_ID")
            profiles = [c for c in matrix.columns if c != sid]
            profiles.sort(key=lambda c: str(c).lower() != "mutations")
            for line, rec in zip(matrix.index, matrix.to_dict("records"), strict=True):
                panel = next((rec[p] for p in profiles if rec[p] is not None), None)
                if panel is None:
                    continue
                if panel not in defined:
                    problems.append(
                        Problem(
                            files.panel_matrix.name,
                            int(line),
                            profiles[0],
                            panel,
                            "gene panel not defined in the study folder",
                            f"add data_gene_panel_{panel}.txt (stable_id, "
                            "gene_list), e.g. from cBioPortal datahub "
                            "reference_data/gene_panels",
                        )
                    )
                panel_of[str(rec[sid])] = panel
    elif files.meta_gene_panel.get("mutations"):
        panel = files.meta_gene_panel["mutations"]
        panel_of = dict.fromkeys(map(str, samples["sample_id"]), panel)
        if panel not in defined:
            problems.append(
                Problem(
                    "meta_mutations",
                    None,
                    "gene_panel",
                    panel,
                    "gene panel not defined in the study folder",
                    f"add data_gene_panel_{panel}.txt",
                )
            )
    _raise(problems, "gene panels")
    if not panel_rows:
        return None
    samples = samples.copy()
    samples["panel_id"] = [panel_of.get(str(s)) for s in samples["sample_id"]]
    unknown = set(panel_of) - set(map(str, samples["sample_id"]))
    if unknown:
        notes.append(
            f"gene panel matrix: {len(unknown)} sample(s) absent from the clinical "
            "sample file ignored"
        )
    gene_panels = validate_table(pd.DataFrame(panel_rows), "gene_panels", "gene panel files")
    return samples, gene_panels


def read_expression_matrix(
    path: Path, kind: str, known: set[str], notes: list[str]
) -> tuple[pd.DataFrame, str]:
    """Read one expression matrix (gene × sample) into the wide contract table.

    Duplicated genes are averaged with one :class:`DuplicateGeneWarning`. Linear TPM/RSEM
    values (non-negative with a maximum above 20) are log2(x+1)-transformed, with a note.
    """
    frame, gene_col, samples = _matrix(path, known, notes, "gene")
    problems = []
    values = np.full((len(frame), len(samples)), np.nan)
    for i, (line, rec) in enumerate(zip(frame.index, frame.to_dict("records"), strict=True)):
        for j, sample in enumerate(samples):
            try:
                value = number(rec[sample])
            except ValueError:
                problems.append(
                    Problem(
                        path.name,
                        int(line),
                        sample,
                        str(rec[sample]),
                        "expression value is not a number",
                        "use numbers only; NA when not measured",
                    )
                )
                continue
            values[i, j] = np.nan if value is None else value
    _raise(problems, path.name)
    genes = [str(g).strip().upper() for g in frame[gene_col]]
    matrix = pd.DataFrame(values, index=genes, columns=samples)
    repeated = sorted({g for g in genes if genes.count(g) > 1})
    if repeated:
        shown = ", ".join(repeated[:10]) + (
            f" and {len(repeated) - 10} more" if len(repeated) > 10 else ""
        )
        message = f"{path.name}: {len(repeated)} gene(s) repeated, their rows averaged: {shown}"
        warnings.warn(message, DuplicateGeneWarning, stacklevel=4)
        notes.append(message)
        matrix = matrix.groupby(level=0, sort=False).mean()
    scale = "zscore" if kind == "zscore" else "log2_tpm"
    finite = matrix.to_numpy()[np.isfinite(matrix.to_numpy())]
    if scale == "log2_tpm" and finite.size and finite.min() >= 0 and finite.max() > LOG2_TPM_MAX:
        matrix = np.log2(matrix + 1.0)
        what = "TPM" if kind == "tpm" else "values (not TPM: e.g. RSEM)"
        notes.append(f"{path.name}: linear {what} transformed with log2(x + 1)")
    wide = matrix.T.reset_index(names="sample_id")
    wide.columns = ["sample_id", *matrix.index]
    return validate_expression(wide, source=path.name, scale=scale), scale  # type: ignore[arg-type]

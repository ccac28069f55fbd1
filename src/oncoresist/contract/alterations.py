"""Parse and normalise alteration text: protein changes, mutation / CNA / fusion lists.

Pure functions (no I/O). Readers call them on every input form so that one alteration is
spelled one way everywhere: ``p.L1196M``, ``L1196M``, ``p.Leu1196Met`` and ``l1196m`` all
become ``p.L1196M``.

The one short HGVS protein form used throughout oncoresist:

=====================  ==========================  ===========================================
kind                   examples in                 normalised
=====================  ==========================  ===========================================
substitution           L858R, p.Leu858Arg          ``p.L858R``
nonsense               R213X, p.Arg213Ter, R213*   ``p.R213*``
synonymous             p.L858=                     ``p.L858=``
deletion               E746_A750del, p.L747del     ``p.E746_A750del``
duplication            A767_V769dup                ``p.A767_V769dup``
insertion              D770_N771insSVD             ``p.D770_N771insSVD``
deletion-insertion     L747_P753delinsS            ``p.L747_P753delinsS``
frameshift             E545Kfs*12, p.E545fs        ``p.E545fs`` (new residue and length dropped)
splice                 X963_splice, p.963_splice   ``p.X963_splice``
start loss             M1?                         ``p.M1?``
stop loss (extension)  *1187Qext*?                 ``p.*1187Qext``
=====================  ==========================  ===========================================

``p.?``, ``p.=``, ``?`` and blanks mean "no known protein change" and give ``None``.
Anything else (``c.2573T>G``, ``p.XYZ``) raises :class:`ValueError` with a reason a reader
turns into an :class:`~oncoresist.exceptions.InputDataError` problem.
"""

from __future__ import annotations

import functools
import math
import re

__all__ = [
    "CN_WORDS",
    "alteration_key",
    "normalise_fusion_variant",
    "normalise_gene",
    "normalise_protein_change",
    "parse_cna_list",
    "parse_fusion_list",
    "parse_mutation_list",
    "variant_class_of",
]

_THREE_TO_ONE = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E",
    "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F",
    "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V", "SEC": "U",
    "PYL": "O", "TER": "*", "XAA": "X",
}  # fmt: skip

_AA1 = r"[ACDEFGHIKLMNPQRSTVWYUOX*]"
_AA3 = "(?:" + "|".join(sorted(_THREE_TO_ONE, key=len, reverse=True)) + r"|\*)"

_NO_CHANGE = {"", "?", "P.?", "P.(?)", "P.=", "=", "NA", "NAN", "NONE"}

_GENE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]*$")


def _grammar(aa: str) -> list[tuple[str, re.Pattern[str]]]:
    pos = r"(\d+)"
    return [
        ("sub", re.compile(rf"^({aa}){pos}({aa}|=)$")),
        ("splice", re.compile(rf"^({aa})?{pos}_?SPLICE$")),
        ("start", re.compile(rf"^({aa}){pos}\?$")),
        ("fs", re.compile(rf"^({aa}){pos}(?:{aa})?FS(?:(?:\*|X|TER)?\d*|\*?\?)?$")),
        ("ext", re.compile(rf"^(?:\*|X|TER){pos}({aa})EXT(?:\*|X|TER)?(?:\d+|\?)?$")),
        (
            "indel",
            re.compile(
                rf"^({aa}){pos}(?:_({aa}){pos})?"
                rf"(DELINS(?:{aa})+|INS(?:{aa})+|DUP(?:{aa})*|DEL(?:{aa})*)$"
            ),
        ),
    ]


_GRAMMAR3 = _grammar(_AA3)
_GRAMMAR1 = _grammar(_AA1)


def _one(token: str | None) -> str:
    """Return the one-letter code of a residue token (1- or 3-letter, any case)."""
    if token is None:
        return ""
    return _THREE_TO_ONE.get(token, token)


def _residues(text: str, three_letter: bool) -> str:
    if not three_letter:
        return text
    return "".join(_one(t) for t in re.findall(_AA3, text))


def _is_blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (str(value).strip() == "" or str(value) in {"<NA>", "nan"})
    )


def normalise_protein_change(text: object) -> str | None:
    """Return a protein change in the one short HGVS form oncoresist uses.

    Parameters
    ----------
    text : str or None
        A protein change as written in a MAF, a report or a spreadsheet: with or without
        ``p.``, one- or three-letter residues, any case, optional parentheses.

    Returns
    -------
    str or None
        The normalised change (see the module table), or ``None`` for blank / ``p.?`` /
        ``p.=`` (no known protein change).

    Raises
    ------
    ValueError
        When the text is not a protein change (e.g. a cDNA change ``c.2573T>G``).

    Examples
    --------
    >>> normalise_protein_change("p.Leu1196Met")
    'p.L1196M'
    >>> normalise_protein_change("e746_a750DEL")
    'p.E746_A750del'
    """
    if _is_blank(text):
        return None
    return _normalised(str(text).strip())


@functools.lru_cache(maxsize=65536)
def _normalised(raw: str) -> str | None:
    # Cached: a sheet is read by the validator, the feature builder and the OOD detector,
    # chunk after chunk, and the same changes (EGFR p.L858R...) recur across patients.
    # A ValueError is not cached (bad text is rare and re-raised each time).
    work = re.sub(r"\s+", "", raw).upper()
    if work in _NO_CHANGE:
        return None
    if work.startswith("C.") or work.startswith("G.") or work.startswith("N."):
        raise ValueError(
            f"'{raw}' is a DNA change, not a protein change; give the p. change (e.g. p.L858R)"
        )
    if work.startswith("P."):
        work = work[2:]
    if work.startswith("(") and work.endswith(")"):
        work = work[1:-1]
    if work in _NO_CHANGE:
        return None
    for three_letter, grammar in ((True, _GRAMMAR3), (False, _GRAMMAR1)):
        for kind, pattern in grammar:
            match = pattern.match(work)
            if match:
                return _render(kind, match.groups(), three_letter)
    raise ValueError(
        f"'{raw}' is not a protein change oncoresist can read; use short HGVS such as "
        "p.L858R, p.E746_A750del, p.D770_N771insSVD or p.E545fs"
    )


def _render(kind: str, groups: tuple[str | None, ...], three_letter: bool) -> str:
    if kind == "sub":
        ref, pos, alt = groups
        alt_one = "=" if alt == "=" else _one(alt)
        # Older notations write a stop as X; HGVS uses *.
        alt_one = "*" if alt_one == "X" else alt_one
        return f"p.{_one(ref)}{int(pos)}{alt_one}"  # type: ignore[arg-type]
    if kind == "splice":
        ref, pos = groups
        return f"p.{_one(ref) or 'X'}{int(pos)}_splice"  # type: ignore[arg-type]
    if kind == "start":
        ref, pos = groups
        return f"p.{_one(ref)}{int(pos)}?"  # type: ignore[arg-type]
    if kind == "fs":
        ref, pos = groups
        return f"p.{_one(ref)}{int(pos)}fs"  # type: ignore[arg-type]
    if kind == "ext":
        pos, alt = groups
        return f"p.*{int(pos)}{_one(alt)}ext"  # type: ignore[arg-type]
    ref1, pos1, ref2, pos2, tail = groups
    start = f"{_one(ref1)}{int(pos1)}"  # type: ignore[arg-type]
    span = start if ref2 is None else f"{start}_{_one(ref2)}{int(pos2)}"  # type: ignore[arg-type]
    assert tail is not None
    for word in ("DELINS", "INS", "DUP", "DEL"):
        if tail.startswith(word):
            seq = tail[len(word) :]
            if word in ("DELINS", "INS"):
                return f"p.{span}{word.lower()}{_residues(seq, three_letter)}"
            # The deleted / duplicated residues are implied by the span: drop them.
            return f"p.{span}{word.lower()}"
    raise AssertionError(tail)  # pragma: no cover - the regex admits only the words above


def variant_class_of(protein_change: str | None) -> str | None:
    """Return the MAF ``Variant_Classification`` implied by a normalised protein change.

    Used for inputs that give only the protein change (profile sheets).
    """
    if protein_change is None:
        return None
    body = protein_change[2:]
    if body.endswith("_splice"):
        return "Splice_Site"
    if body.endswith("fs"):
        return "Frame_Shift"
    if "delins" in body or body.endswith("del"):
        return "In_Frame_Del"
    if "ins" in body or body.endswith("dup"):
        return "In_Frame_Ins"
    if body.endswith("ext"):
        return "Nonstop_Mutation"
    if body.endswith("?"):
        return "Translation_Start_Site"
    if body.endswith("="):
        return "Silent"
    if body.endswith("*"):
        return "Nonsense_Mutation"
    return "Missense_Mutation"


def normalise_gene(text: object) -> str:
    """Return an upper-cased gene symbol, or raise ValueError if it cannot be one."""
    gene = "" if _is_blank(text) else str(text).strip().upper()
    if not _GENE.match(gene):
        raise ValueError(f"'{text}' is not a gene symbol; use the HGNC symbol, e.g. EGFR")
    return gene


def alteration_key(gene: str, alteration: str | None) -> str:
    """Return ``"GENE p.X123Y"`` (or ``"GENE"`` when no alteration): one key per alteration."""
    gene = normalise_gene(gene)
    return gene if alteration is None else f"{gene} {alteration}"


# --------------------------------------------------------------------------------------
# ;-separated lists (profile sheets)
# --------------------------------------------------------------------------------------

#: Words for discrete copy-number states (GISTIC convention: -2 deep deletion .. 2 amp).
CN_WORDS: dict[str, int] = {
    "amp": 2, "amplification": 2, "amplified": 2, "+2": 2, "2": 2, "high-level gain": 2,
    "gain": 1, "+1": 1, "1": 1, "low-level gain": 1,
    "neutral": 0, "diploid": 0, "0": 0,
    "loss": -1, "shallow del": -1, "shallow deletion": -1, "shallowdel": -1, "hetloss": -1,
    "heterozygous deletion": -1, "hemizygous deletion": -1, "-1": -1,
    "del": -2, "deletion": -2, "deep del": -2, "deep deletion": -2, "deepdel": -2,
    "homdel": -2, "homozygous deletion": -2, "-2": -2,
}  # fmt: skip


def _items(text: object) -> list[str] | None:
    """Split a list cell on ';' (',' tolerated). None when the cell is blank."""
    if _is_blank(text):
        return None
    return [item.strip() for item in re.split(r"[;,]", str(text))]


def _split_gene(item: str) -> tuple[str, str]:
    parts = re.split(r"[\s:]+", item, maxsplit=1)
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def _looks_like_protein_change(text: str) -> bool:
    try:
        return normalise_protein_change(text) is not None
    except ValueError:
        return False


def parse_mutation_list(text: object) -> tuple[list[tuple[str, str]], list[str]]:
    """Parse ``"EGFR p.L858R; TP53 p.R273H"`` into ``[(gene, protein_change), ...]``.

    Items are separated by ``;`` (``,`` is accepted too). Each item is a gene symbol then a
    protein change (space or ``:`` between them). Items that cannot be read are never
    dropped silently: each gives one problem text instead.

    Returns
    -------
    items : list of (str, str)
        Upper-cased gene and normalised protein change.
    problems : list of str
        One readable reason per bad item (empty when all parsed).
    """
    items = _items(text)
    if items is None:
        return [], []
    parsed: list[tuple[str, str]] = []
    problems: list[str] = []
    for position, item in enumerate(items, start=1):
        if item == "":
            problems.append(f"item {position} is empty (remove the extra ';')")
            continue
        gene_text, change_text = _split_gene(item)
        if not change_text and _looks_like_protein_change(gene_text):
            problems.append(f"item '{item}' names no gene (write e.g. EGFR {gene_text})")
            continue
        try:
            gene = normalise_gene(gene_text)
        except ValueError as err:
            problems.append(f"item '{item}': {err}")
            continue
        if change_text.lower() in CN_WORDS or change_text.lower() == "fusion":
            problems.append(
                f"item '{item}' is a copy-number or fusion call; put it in the copy_number "
                "or fusions column"
            )
            continue
        try:
            change = normalise_protein_change(change_text)
        except ValueError as err:
            problems.append(f"item '{item}': {err}")
            continue
        if change is None:
            problems.append(f"item '{item}' names no protein change (e.g. {gene} p.L858R)")
            continue
        parsed.append((gene, change))
    return parsed, problems


def parse_cna_list(text: object) -> tuple[list[tuple[str, int]], list[str]]:
    """Parse ``"MET amp; CDKN2A del"`` into ``[(gene, cn_state), ...]``.

    Words: amp/amplification/+2 → 2; gain/+1 → 1; loss/shallow del/-1 → -1;
    del/deletion/deep del/homdel/-2 → -2 (see :data:`CN_WORDS`).

    Returns
    -------
    items : list of (str, int)
    problems : list of str
    """
    items = _items(text)
    if items is None:
        return [], []
    parsed: list[tuple[str, int]] = []
    problems: list[str] = []
    for position, item in enumerate(items, start=1):
        if item == "":
            problems.append(f"item {position} is empty (remove the extra ';')")
            continue
        gene_text, word = _split_gene(item)
        try:
            gene = normalise_gene(gene_text)
        except ValueError as err:
            problems.append(f"item '{item}': {err}")
            continue
        state = CN_WORDS.get(re.sub(r"\s+", " ", word.lower()))
        if state is None:
            problems.append(
                f"item '{item}': unknown copy-number call '{word}'; use amp, gain, loss or "
                "del (or -2..2)"
            )
            continue
        parsed.append((gene, state))
    return parsed, problems


def normalise_fusion_variant(text: object) -> str | None:
    """Return a fusion variant label: ``variant 3`` / ``V3`` / ``var3`` → ``v3``.

    Other labels (e.g. exon notation ``E13;A20``) are kept as written.
    """
    if _is_blank(text):
        return None
    raw = str(text).strip()
    match = re.fullmatch(r"(?:v|var|variant)\s*\.?\s*(\d+[a-z]?)", raw, flags=re.IGNORECASE)
    return f"v{match.group(1).lower()}" if match else raw


def parse_fusion_list(text: object) -> tuple[list[tuple[str, str, str | None]], list[str]]:
    """Parse ``"EML4-ALK v3; KIF5B-RET"`` into ``[(gene_5p, gene_3p, variant), ...]``.

    The 5' partner comes first. Genes are joined by ``-`` or ``::``; use ``::`` when a gene
    symbol itself holds a hyphen (``NKX2-1::ALK``). Anything after a space is the variant.

    Returns
    -------
    items : list of (str, str, str or None)
    problems : list of str
    """
    items = _items(text)
    if items is None:
        return [], []
    parsed: list[tuple[str, str, str | None]] = []
    problems: list[str] = []
    for position, item in enumerate(items, start=1):
        if item == "":
            problems.append(f"item {position} is empty (remove the extra ';')")
            continue
        pair, _, variant = item.partition(" ")
        genes = pair.split("::") if "::" in pair else pair.split("-")
        if len(genes) != 2:
            problems.append(
                f"item '{item}': write a fusion as GENE5-GENE3 (or GENE5::GENE3 when a "
                "symbol holds a hyphen), e.g. EML4-ALK v3"
            )
            continue
        try:
            five, three = normalise_gene(genes[0]), normalise_gene(genes[1])
        except ValueError as err:
            problems.append(f"item '{item}': {err}")
            continue
        parsed.append((five, three, normalise_fusion_variant(variant)))
    return parsed, problems

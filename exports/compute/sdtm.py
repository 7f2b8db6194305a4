"""CDISC SDTM tumour domains (SDTMIG v3.4 with the oncology disease-response domains): TU, TR and RS.

``DOMAINS`` is the variable list as data — name, label, type, core designation, codelist and the controlled terms
this export uses — read by the row builders below, by ``validate`` and by the tests, and printed in
docs/export.md. The mapping:

* **TU** (tumour/lesion identification): one record per lesion, at the assessment where it was identified (the
  first assessment that records it; for a new lesion, where it appeared). ``TUTESTCD = TUMIDENT``, ``TUORRES`` =
  TARGET, NON-TARGET or NEW, ``TULNKID`` = the export's lesion identifier (T01, NT01, NEW01).
* **TR** (tumour/lesion results): per lesion and assessment, the diameter (``LDIAM``; ``LPERP``, the short axis, for
  a lymph node) in mm and, for non-target and new lesions, the state (``TUMSTATE``); per assessment the sum of
  diameters (``SUMDIAM``) the response engine computed. ``TRLNKGRP`` groups an assessment's records with its RS
  records.
* **RS** (disease response): per assessment, the overall time-point response (``RSTESTCD = OVRLRESP``) under
  ``RSCAT`` "RECIST 1.1" (CR, PR, SD, PD, NON-CR/NON-PD, NE) and "iRECIST" (iCR, iPR, iSD, iUPD, iCPD,
  NON-iCR/NON-iUPD, NE).

De-identified as the research tables are: ``USUBJID`` is the study and the patient's pseudonym, timing is the study
day (``--DY``: day 1 is the first ICI dose, there is no day 0) and the visit, and the ``--DTC`` variables, which
SDTMIG expects, are present but always empty (dates do not leave the database).
"""
import re
from dataclasses import dataclass
from decimal import Decimal

from .pseudonyms import sdtm_day
from .tables import Column, Table


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    type: str          # "Char" or "Num" (SDTM); ``storage`` is the Parquet type
    core: str          # "Req", "Exp" or "Perm" (SDTMIG v3.4)
    codelist: str = ""  # the CDISC codelist (NCI code and submission name) the values come from
    terms: tuple = ()  # the values this export writes (empty: free within the variable's rules)
    storage: str = "string"
    note: str = ""     # where the value comes from


def _v(name, label, type_="Char", core="Perm", codelist="", terms=(), storage=None, note=""):
    return Variable(name, label, type_, core, codelist, tuple(terms), storage or ("string" if type_ == "Char"
                                                                                  else "int64"), note)


RECIST_RESPONSES = ("CR", "PR", "SD", "PD", "NON-CR/NON-PD", "NE")
IRECIST_RESPONSES = ("iCR", "iPR", "iSD", "iUPD", "iCPD", "NON-iCR/NON-iUPD", "NE")
RESPONSE_CATEGORIES = {"recist1.1": "RECIST 1.1", "irecist": "iRECIST"}
LOCATIONS = {  # imaging.choices.Organ -> CDISC LOC (C74456) submission value; "other" has none (TULOC empty)
    "lung": "LUNG", "liver": "LIVER", "lymph_node": "LYMPH NODE", "adrenal": "ADRENAL GLAND", "bone": "BONE",
    "brain": "BRAIN", "kidney": "KIDNEY", "peritoneum": "PERITONEUM", "pleura": "PLEURA", "skin": "SKIN",
    "soft_tissue": "SOFT TISSUE", "spleen": "SPLEEN", "pancreas": "PANCREAS", "stomach": "STOMACH",
    "bowel": "INTESTINE", "bladder": "URINARY BLADDER", "head_neck": "HEAD AND NECK",
}
METHODS = {"CT": "CT SCAN", "MR": "MRI", "PT": "PET SCAN"}  # DICOM modality -> CDISC METHOD (C85492)
TUMOUR_STATES = {  # imaging.choices.NonTargetStatus -> TR TUMSTATE result
    "present": "PRESENT", "absent": "ABSENT", "unequivocal-progression": "UNEQUIVOCAL PROGRESSION",
    "increased-from-last-assessment": "INCREASED",
}
ROLES = {"target": "TARGET", "non-target": "NON-TARGET", "new": "NEW"}
EVALUATOR = "INVESTIGATOR"  # the site's readers, whose measurements the records are
TOO_SMALL_MM = Decimal(5)   # RECIST 1.1 §1.3: a target too small to measure counts as 5 mm

_IDENTIFIERS = (
    _v("STUDYID", "Study Identifier", core="Req", note="The export project's slug in capitals (RADIMMUNO "
       "without a project)."),
    _v("DOMAIN", "Domain Abbreviation", core="Req"),
    _v("USUBJID", "Unique Subject Identifier", core="Req", note="STUDYID, '-', the patient's pseudonym."),
)
_VISIT = (
    _v("VISITNUM", "Visit Number", "Num", "Exp", note="The assessment's rank among the patient's assessments by "
       "date (1, 2, ...)."),
    _v("VISIT", "Visit Name", core="Perm", note="BASELINE, FOLLOW-UP n, UNSCHEDULED n or PRE-BASELINE (numbered "
       "from the second of a kind)."),
)

DOMAINS = {
    "TU": (
        *_IDENTIFIERS,
        _v("TUSEQ", "Sequence Number", "Num", "Req", note="1, 2, ... per subject in TULNKID order."),
        _v("TULNKID", "Link ID", core="Exp", note="The lesion identifier (T01, NT01, NEW01), as in TR."),
        _v("TUTESTCD", "Tumor/Lesion ID Short Name", core="Req", codelist="C96784 (TUTESTCD)", terms=("TUMIDENT",)),
        _v("TUTEST", "Tumor/Lesion ID Test Name", core="Req", codelist="C96783 (TUTEST)",
           terms=("Tumor Identification",)),
        _v("TUORRES", "Tumor/Lesion ID Result", core="Exp", terms=tuple(ROLES.values()),
           note="The lesion's RECIST 1.1 role (CDISC oncology codetable)."),
        _v("TUSTRESC", "Tumor/Lesion ID Result Std. Format", core="Exp", terms=tuple(ROLES.values())),
        _v("TULOC", "Location of the Tumor/Lesion", core="Exp", codelist="C74456 (LOC)",
           terms=tuple(LOCATIONS.values()), note="The lesion's organ; empty for organ 'other'."),
        _v("TUMETHOD", "Method of Identification", core="Exp", codelist="C85492 (METHOD)",
           terms=tuple(METHODS.values()), note="The modality of the images of the identifying assessment (CT "
           "before MR before PET); empty when no images are stored."),
        _v("TUEVAL", "Evaluator", core="Exp", codelist="C78735 (EVAL)", terms=(EVALUATOR,)),
        *_VISIT,
        _v("TUDTC", "Date/Time of Tumor/Lesion Identification", core="Exp", note="Always empty (de-identified)."),
        _v("TUDY", "Study Day of Tumor/Lesion Identification", "Num", "Perm"),
    ),
    "TR": (
        *_IDENTIFIERS,
        _v("TRSEQ", "Sequence Number", "Num", "Req"),
        _v("TRGRPID", "Group ID", terms=("TARGET", "NON-TARGET", "NEW"), note="The lesion's role."),
        _v("TRLNKGRP", "Link Group ID", note="A<VISITNUM>: the assessment's TR and RS records."),
        _v("TRLNKID", "Link ID", core="Exp", note="The lesion identifier (TU.TULNKID); empty for SUMDIAM."),
        _v("TRTESTCD", "Tumor/Lesion Assessment Short Name", core="Req", codelist="C96779 (TRTESTCD)",
           terms=("LDIAM", "LPERP", "SUMDIAM", "TUMSTATE")),
        _v("TRTEST", "Tumor/Lesion Assessment Test Name", core="Req", codelist="C96778 (TRTEST)",
           terms=("Longest Diameter", "Longest Perpendicular", "Sum of Diameter", "Tumor State")),
        _v("TRORRES", "Result or Finding in Original Units", core="Exp", note="The size in mm as recorded, "
           "TOO SMALL TO MEASURE, or the tumour state (PRESENT, ABSENT, UNEQUIVOCAL PROGRESSION, INCREASED "
           "(iRECIST), EQUIVOCAL, UNEQUIVOCAL for new lesions)."),
        _v("TRORRESU", "Original Units", core="Exp", codelist="C71620 (UNIT)", terms=("mm",)),
        _v("TRSTRESC", "Character Result/Finding in Std Format", core="Exp", note="As TRORRES; 5 for too small "
           "to measure (RECIST 1.1 §1.3)."),
        _v("TRSTRESN", "Numeric Result/Finding in Standard Units", "Num", "Exp", storage="float64"),
        _v("TRSTRESU", "Standard Units", core="Exp", codelist="C71620 (UNIT)", terms=("mm",)),
        _v("TRSTAT", "Completion Status", codelist="C66789 (ND)", terms=("NOT DONE",),
           note="NOT DONE for a lesion not assessed or not evaluated."),
        _v("TRMETHOD", "Method Used to Identify the Tumor/Lesion", core="Exp", codelist="C85492 (METHOD)",
           terms=tuple(METHODS.values())),
        _v("TREVAL", "Evaluator", core="Exp", codelist="C78735 (EVAL)", terms=(EVALUATOR,)),
        *_VISIT,
        _v("TRDTC", "Date/Time of Tumor/Lesion Measurement", core="Exp", note="Always empty (de-identified)."),
        _v("TRDY", "Study Day of Tumor/Lesion Measurement", "Num", "Perm"),
    ),
    "RS": (
        *_IDENTIFIERS,
        _v("RSSEQ", "Sequence Number", "Num", "Req"),
        _v("RSGRPID", "Group ID", note="R<n>: the number of the ICI regimen the response is assessed for."),
        _v("RSLNKGRP", "Link Group ID", note="A<VISITNUM>, as the assessment's TR records."),
        _v("RSTESTCD", "Assessment Short Name", core="Req", codelist="C96782 (ONCRTSCD)", terms=("OVRLRESP",)),
        _v("RSTEST", "Assessment Name", core="Req", codelist="C96781 (ONCRTS)", terms=("Overall Response",)),
        _v("RSCAT", "Category for Assessment", core="Exp", terms=tuple(RESPONSE_CATEGORIES.values())),
        _v("RSORRES", "Result or Finding in Original Units", core="Exp", codelist="C96785 (ONCRSR)",
           terms=tuple(dict.fromkeys(RECIST_RESPONSES + IRECIST_RESPONSES))),
        _v("RSSTRESC", "Character Result/Finding in Std Format", core="Exp", codelist="C96785 (ONCRSR)",
           terms=tuple(dict.fromkeys(RECIST_RESPONSES + IRECIST_RESPONSES))),
        _v("RSEVAL", "Evaluator", core="Exp", note="Empty: the response is computed by the response engine "
           "(docs/response-rules.md) from the readers' measurements, which EVAL has no term for."),
        *_VISIT,
        _v("RSDTC", "Date/Time of Assessment", core="Exp", note="Always empty (de-identified)."),
        _v("RSDY", "Study Day of Assessment", "Num", "Perm"),
    ),
}
TABLE_NAMES = {"TU": "sdtm_tu", "TR": "sdtm_tr", "RS": "sdtm_rs"}
#: --TESTCD -> --TEST, as the codelists pair them.
TESTS = {"TUMIDENT": "Tumor Identification", "LDIAM": "Longest Diameter", "LPERP": "Longest Perpendicular",
         "SUMDIAM": "Sum of Diameter", "TUMSTATE": "Tumor State", "OVRLRESP": "Overall Response"}
#: RSCAT -> the responses its criteria define.
CATEGORY_RESPONSES = {"RECIST 1.1": RECIST_RESPONSES, "iRECIST": IRECIST_RESPONSES}
_TESTCD = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")


def table(domain):
    """The domain as an export table (the writers' column types)."""
    labels = {"TU": "SDTM TU (tumor/lesion identification)", "TR": "SDTM TR (tumor/lesion results)",
              "RS": "SDTM RS (disease response)"}
    return Table(TABLE_NAMES[domain], f"{labels[domain]}, SDTMIG v3.4; see docs/export.md for the mapping.",
                 tuple(Column(v.name, v.storage, "mm" if v.name in ("TRSTRESN",) else "", v.label)
                       for v in DOMAINS[domain]))


def _text(size):
    """A size as recorded (Decimal, no trailing zeros)."""
    return f"{Decimal(size).normalize():f}"


def visits(timepoints):
    """``{timepoint key: (VISITNUM, VISIT)}`` for one patient's ``[(key, date-or-day, kind)]``."""
    names = {"baseline": "BASELINE", "follow-up": "FOLLOW-UP", "unscheduled": "UNSCHEDULED",
             "pre-baseline": "PRE-BASELINE"}
    seen, out = {}, {}
    for number, (key, _when, kind) in enumerate(sorted(timepoints, key=lambda t: (t[1], t[0])), start=1):
        seen[kind] = seen.get(kind, 0) + 1
        name = names.get(kind, "ASSESSMENT")
        numbered = kind in ("follow-up", "unscheduled") or seen[kind] > 1
        out[key] = (number, f"{name} {seen[kind]}" if numbered else name)
    return out


def tu_rows(studyid, usubjid, lesions):
    """TU records of one subject. ``lesions``: ``[{"id", "role", "organ", "visit": (VISITNUM, VISIT) or None,
    "day": day offset or None, "modality": DICOM modality or None}]``."""
    rows = []
    for seq, lesion in enumerate(sorted(lesions, key=lambda item: item["id"]), start=1):
        visitnum, visit = lesion["visit"] or (None, None)
        role = ROLES[lesion["role"]]
        rows.append((studyid, "TU", usubjid, seq, lesion["id"], "TUMIDENT", "Tumor Identification", role, role,
                     LOCATIONS.get(lesion["organ"]), METHODS.get(lesion["modality"]), EVALUATOR, visitnum, visit,
                     None, sdtm_day(lesion["day"])))
    return rows


def tr_rows(studyid, usubjid, measurements, sums):
    """TR records of one subject. ``measurements``: ``[{"lesion", "role", "nodal", "equivocal", "visit", "day",
    "modality", "size_mm" (Decimal or None), "status", "non_target_status"}]``; ``sums``: ``[{"visit", "day",
    "modality", "target_sum_mm" (Decimal)}]``. Records are ordered by visit, then lesion, then test."""
    records = []
    for m in measurements:
        visitnum, visit = m["visit"]
        common = {"group": ROLES[m["role"]], "link": m["lesion"], "visitnum": visitnum, "visit": visit,
                  "day": m["day"], "modality": m["modality"]}
        diameter = ("LPERP", "Longest Perpendicular") if m["nodal"] else ("LDIAM", "Longest Diameter")
        status, state = m["status"], m["non_target_status"]
        if status == "not-assessed" or state == "not-evaluated":
            test = diameter if m["role"] == "target" else ("TUMSTATE", "Tumor State")
            records.append({**common, "test": test, "stat": "NOT DONE"})
            continue
        if m["size_mm"] is not None or (m["role"] == "target" and status in ("too-small-to-measure", "disappeared")):
            if status == "too-small-to-measure":
                result = {"orres": "TOO SMALL TO MEASURE", "stresc": _text(TOO_SMALL_MM), "stresn": 5.0}
            else:
                size = m["size_mm"] if m["size_mm"] is not None else Decimal(0)
                result = {"orres": _text(size), "stresc": _text(size), "stresn": float(size)}
            records.append({**common, "test": diameter, "unit": "mm", **result})
        if m["role"] != "target":
            if state:
                value = TUMOUR_STATES[state]
            elif status == "disappeared":
                value = "ABSENT"
            elif m["role"] == "new":
                value = "EQUIVOCAL" if m["equivocal"] else "UNEQUIVOCAL"
            else:
                value = "PRESENT"
            records.append({**common, "test": ("TUMSTATE", "Tumor State"), "orres": value, "stresc": value})
    for s in sums:
        visitnum, visit = s["visit"]
        text = _text(s["target_sum_mm"])
        records.append({"group": "TARGET", "link": None, "visitnum": visitnum, "visit": visit, "day": s["day"],
                        "modality": s["modality"], "test": ("SUMDIAM", "Sum of Diameter"), "unit": "mm",
                        "orres": text, "stresc": text, "stresn": float(s["target_sum_mm"])})
    order = {"LDIAM": 0, "LPERP": 0, "TUMSTATE": 1, "SUMDIAM": 2}
    records.sort(key=lambda r: (r["visitnum"], r["link"] is None, r["link"] or "", order[r["test"][0]]))
    rows = []
    for seq, r in enumerate(records, start=1):
        unit = r.get("unit") if r.get("orres") is not None else None
        rows.append((studyid, "TR", usubjid, seq, r["group"], f"A{r['visitnum']}", r["link"], r["test"][0],
                     r["test"][1], r.get("orres"), unit, r.get("stresc"), r.get("stresn"),
                     unit if r.get("stresn") is not None else None, r.get("stat"), METHODS.get(r["modality"]),
                     EVALUATOR, r["visitnum"], r["visit"], None, sdtm_day(r["day"])))
    return rows


def rs_rows(studyid, usubjid, responses):
    """RS records of one subject. ``responses``: ``[{"regimen", "criteria" ("recist1.1" | "irecist"), "category",
    "visit", "day"}]``; time points without a category are not responses and are left out."""
    records = sorted((r for r in responses if r["category"]),
                     key=lambda r: (r["visit"][0], r["regimen"], r["criteria"] != "recist1.1"))
    rows = []
    for seq, r in enumerate(records, start=1):
        visitnum, visit = r["visit"]
        rows.append((studyid, "RS", usubjid, seq, f"R{r['regimen']}", f"A{visitnum}", "OVRLRESP", "Overall Response",
                     RESPONSE_CATEGORIES[r["criteria"]], r["category"], r["category"], None, visitnum, visit, None,
                     sdtm_day(r["day"])))
    return rows


def validate(domain, columns, rows):
    """Problems of a domain's records against ``DOMAINS``: ``[message]``, empty when valid.

    Checks the variables (all present, in order), each Req value present, types (Char text of at most 200
    characters, Num a number), --TESTCD form (at most 8 characters, letters, digits or underscores, not starting
    with a digit) and --TEST length (at most 40), the controlled terms listed for a variable, DOMAIN, and
    --SEQ unique per USUBJID; --TEST matching its --TESTCD; an RS result of its RSCAT's criteria. Rows are sequences in the variables' order (``columns`` their names).
    """
    spec = DOMAINS[domain]
    problems = []
    names = [v.name for v in spec]
    if list(columns) != names:
        return [f"{domain}: variables {list(columns)} are not {names}"]
    seen = set()
    for number, row in enumerate(rows, start=1):
        record = dict(zip(names, row, strict=True))
        for v in spec:
            value = record[v.name]
            where = f"{domain} record {number} {v.name}"
            if value is None or value == "":
                if v.core == "Req":
                    problems.append(f"{where}: required, missing")
                continue
            if v.type == "Num" and (isinstance(value, bool) or not isinstance(value, (int, float))):
                problems.append(f"{where}: {value!r} is not a number")
            if v.type == "Char" and (not isinstance(value, str) or len(value) > 200):
                problems.append(f"{where}: {value!r} is not text of at most 200 characters")
            if v.terms and value not in v.terms:
                problems.append(f"{where}: {value!r} is not one of {', '.join(v.terms)}")
            if v.name.endswith("TESTCD") and not _TESTCD.match(str(value)):
                problems.append(f"{where}: {value!r} is not a valid test code")
            if v.name.endswith("TEST") and len(str(value)) > 40:
                problems.append(f"{where}: longer than 40 characters")
        code, test = record[f"{domain}TESTCD"], record[f"{domain}TEST"]
        if TESTS.get(code) != test:
            problems.append(f"{domain} record {number}: {domain}TEST {test!r} does not go with {code!r}")
        if domain == "RS" and record["RSORRES"] not in CATEGORY_RESPONSES.get(record["RSCAT"], ()):
            problems.append(f"RS record {number}: {record['RSORRES']!r} is not a {record['RSCAT']} response")
        if record["DOMAIN"] != domain:
            problems.append(f"{domain} record {number}: DOMAIN is {record['DOMAIN']!r}")
        key = (record["USUBJID"], record[f"{domain}SEQ"])
        if key in seen:
            problems.append(f"{domain} record {number}: {domain}SEQ {key[1]} repeats for {key[0]}")
        seen.add(key)
    return problems

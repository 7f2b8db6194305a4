"""Reference vocabularies shipped with the app (loaded by a data migration, editable by curators)."""
from .choices import BiomarkerValueType as V
from .choices import DrugClass as C
from .choices import Specimen as S

DRUGS = [
    # name, class, target
    ("pembrolizumab", C.ANTI_PD1, "PD-1"),
    ("nivolumab", C.ANTI_PD1, "PD-1"),
    ("cemiplimab", C.ANTI_PD1, "PD-1"),
    ("dostarlimab", C.ANTI_PD1, "PD-1"),
    ("tislelizumab", C.ANTI_PD1, "PD-1"),
    ("toripalimab", C.ANTI_PD1, "PD-1"),
    ("atezolizumab", C.ANTI_PDL1, "PD-L1"),
    ("durvalumab", C.ANTI_PDL1, "PD-L1"),
    ("avelumab", C.ANTI_PDL1, "PD-L1"),
    ("ipilimumab", C.ANTI_CTLA4, "CTLA-4"),
    ("tremelimumab", C.ANTI_CTLA4, "CTLA-4"),
    ("relatlimab", C.ANTI_LAG3, "LAG-3"),
    ("carboplatin", C.CHEMOTHERAPY, ""),
    ("cisplatin", C.CHEMOTHERAPY, ""),
    ("oxaliplatin", C.CHEMOTHERAPY, ""),
    ("pemetrexed", C.CHEMOTHERAPY, ""),
    ("paclitaxel", C.CHEMOTHERAPY, ""),
    ("nab-paclitaxel", C.CHEMOTHERAPY, ""),
    ("docetaxel", C.CHEMOTHERAPY, ""),
    ("gemcitabine", C.CHEMOTHERAPY, ""),
    ("etoposide", C.CHEMOTHERAPY, ""),
    ("fluorouracil", C.CHEMOTHERAPY, ""),
    ("capecitabine", C.CHEMOTHERAPY, ""),
    ("enfortumab vedotin", C.TARGETED, "Nectin-4"),
    ("axitinib", C.TARGETED, "VEGFR"),
    ("lenvatinib", C.TARGETED, "VEGFR/multikinase"),
    ("cabozantinib", C.TARGETED, "MET/VEGFR"),
    ("bevacizumab", C.TARGETED, "VEGF-A"),
    ("trastuzumab", C.TARGETED, "HER2"),
    ("osimertinib", C.TARGETED, "EGFR"),
    ("dabrafenib", C.TARGETED, "BRAF"),
    ("trametinib", C.TARGETED, "MEK"),
]

BIOMARKER_KINDS = [
    # code, name, unit, type, min, max, categories, default specimen
    ("pdl1_tps", "PD-L1 TPS", "%", V.NUMERIC, 0, 100, [], S.TISSUE),
    ("pdl1_cps", "PD-L1 CPS", "", V.NUMERIC, 0, 100, [], S.TISSUE),
    ("tmb", "Tumour mutational burden", "mut/Mb", V.NUMERIC, 0, 1000, [], S.TISSUE),
    ("msi", "MSI status", "", V.CATEGORICAL, None, None, ["MSI-H", "MSI-L", "MSS"], S.TISSUE),
    ("mmr", "MMR status", "", V.CATEGORICAL, None, None, ["dMMR", "pMMR"], S.TISSUE),
    ("cd8_til", "CD8+ TIL density", "cells/mm²", V.NUMERIC, 0, 20000, [], S.TISSUE),
    ("immunoscore", "Immunoscore", "", V.CATEGORICAL, None, None, ["IS0", "IS1", "IS2", "IS3", "IS4"], S.TISSUE),
    ("nlr", "Neutrophil-to-lymphocyte ratio", "", V.NUMERIC, 0, 200, [], S.BLOOD),
    ("ldh", "Lactate dehydrogenase", "U/L", V.NUMERIC, 0, 20000, [], S.BLOOD),
    ("crp", "C-reactive protein", "mg/L", V.NUMERIC, 0, 1000, [], S.BLOOD),
    ("albumin", "Albumin", "g/L", V.NUMERIC, 0, 80, [], S.BLOOD),
]


def load_vocabularies(Drug, BiomarkerKind):
    """Create or update the shipped vocabularies (idempotent; works with historical migration models)."""
    for name, drug_class, target in DRUGS:
        Drug.objects.update_or_create(name=name, defaults={"drug_class": drug_class.value, "target": target})
    for code, name, unit, value_type, lo, hi, categories, specimen in BIOMARKER_KINDS:
        BiomarkerKind.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "unit": unit,
                "value_type": value_type.value,
                "min_value": lo,
                "max_value": hi,
                "categories": categories,
                "default_specimen": specimen.value,
            },
        )

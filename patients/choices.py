"""Vocabularies of the patients app. Stored values are short, stable codes; labels are what clinicians read."""
from django.db import models


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    OTHER = "O", "Other"
    UNKNOWN = "U", "Unknown"


class TumourType(models.TextChoices):
    NSCLC = "nsclc", "Non-small-cell lung cancer"
    MELANOMA = "melanoma", "Melanoma"
    RCC = "rcc", "Renal cell carcinoma"
    UROTHELIAL = "urothelial", "Urothelial carcinoma"
    HNSCC = "hnscc", "Head & neck squamous cell carcinoma"
    HCC = "hcc", "Hepatocellular carcinoma"
    GASTRIC = "gastric", "Gastric / gastro-oesophageal junction"
    CRC_MSIH = "crc_msih", "Colorectal, MSI-H / dMMR"
    OTHER = "other", "Other"


class SmokingStatus(models.TextChoices):
    NEVER = "never", "Never"
    FORMER = "former", "Former"
    CURRENT = "current", "Current"
    UNKNOWN = "unknown", "Unknown"


class ECOG(models.IntegerChoices):
    FULLY_ACTIVE = 0, "0 – fully active"
    RESTRICTED = 1, "1 – restricted in strenuous activity"
    AMBULATORY = 2, "2 – ambulatory, capable of self-care"
    LIMITED_SELF_CARE = 3, "3 – limited self-care"
    DISABLED = 4, "4 – completely disabled"


class DrugClass(models.TextChoices):
    ANTI_PD1 = "anti_pd1", "anti-PD-1"
    ANTI_PDL1 = "anti_pdl1", "anti-PD-L1"
    ANTI_CTLA4 = "anti_ctla4", "anti-CTLA-4"
    ANTI_LAG3 = "anti_lag3", "anti-LAG-3"
    CHEMOTHERAPY = "chemotherapy", "Chemotherapy"
    TARGETED = "targeted", "Targeted therapy"
    OTHER = "other", "Other"


ICI_CLASSES = (DrugClass.ANTI_PD1, DrugClass.ANTI_PDL1, DrugClass.ANTI_CTLA4, DrugClass.ANTI_LAG3)


class EndReason(models.TextChoices):
    PROGRESSION = "progression", "Progression"
    TOXICITY = "toxicity", "Toxicity"
    COMPLETED = "completed", "Completed as planned"
    DEATH = "death", "Death"
    PATIENT_CHOICE = "patient_choice", "Patient choice"
    OTHER = "other", "Other"


class BiomarkerValueType(models.TextChoices):
    NUMERIC = "numeric", "Numeric"
    CATEGORICAL = "categorical", "Categorical"


class Specimen(models.TextChoices):
    TISSUE = "tissue", "Tissue"
    BLOOD = "blood", "Blood"


class BiomarkerSource(models.TextChoices):
    MEASURED = "measured", "Measured"
    PREDICTED = "predicted", "Predicted by a model"


class AETerm(models.TextChoices):
    """Common immune-related adverse events, CTCAE v5 terms."""

    PNEUMONITIS = "pneumonitis", "Pneumonitis"
    COLITIS = "colitis", "Colitis"
    DIARRHOEA = "diarrhea", "Diarrhea"
    HEPATITIS = "hepatitis", "Hepatitis (immune-mediated)"
    THYROIDITIS = "thyroiditis", "Thyroiditis"
    HYPOTHYROIDISM = "hypothyroidism", "Hypothyroidism"
    HYPERTHYROIDISM = "hyperthyroidism", "Hyperthyroidism"
    HYPOPHYSITIS = "hypophysitis", "Hypophysitis"
    ADRENAL_INSUFFICIENCY = "adrenal_insufficiency", "Adrenal insufficiency"
    DIABETES = "type1_diabetes", "Type 1 diabetes mellitus"
    DERMATITIS = "dermatitis", "Rash / dermatitis"
    PRURITUS = "pruritus", "Pruritus"
    VITILIGO = "vitiligo", "Vitiligo"
    MYOCARDITIS = "myocarditis", "Myocarditis"
    NEPHRITIS = "nephritis", "Nephritis"
    ARTHRITIS = "arthritis", "Arthritis"
    MYOSITIS = "myositis", "Myositis"
    PANCREATITIS = "pancreatitis", "Pancreatitis"
    UVEITIS = "uveitis", "Uveitis"
    NEUROPATHY = "neuropathy", "Peripheral neuropathy"
    GUILLAIN_BARRE = "guillain_barre", "Guillain-Barré syndrome"
    MYASTHENIA = "myasthenia_gravis", "Myasthenia gravis"
    ENCEPHALITIS = "encephalitis", "Encephalitis"
    OTHER = "other", "Other"


class AEGrade(models.IntegerChoices):
    MILD = 1, "1 – mild"
    MODERATE = 2, "2 – moderate"
    SEVERE = 3, "3 – severe"
    LIFE_THREATENING = 4, "4 – life-threatening"
    DEATH = 5, "5 – death"


class ICIAction(models.TextChoices):
    NONE = "none", "None"
    HELD = "held", "ICI held"
    DISCONTINUED = "discontinued", "ICI discontinued"


class VitalStatus(models.TextChoices):
    ALIVE = "alive", "Alive"
    DEAD = "dead", "Dead"
    UNKNOWN = "unknown", "Unknown"

from django.db import migrations


def load(apps, schema_editor):
    """Ship the documented default profiles (imaging/compute/radiomics/defaults.py), active per modality."""
    from imaging.compute.radiomics import default_params, params_hash, validate_params

    Profile = apps.get_model("imaging", "ExtractionProfile")
    for name, modality, rings, description in [
        ("ct-default", "CT", [[0.0, 3.0], [3.0, 6.0]],
         "CT: isotropic 1 mm, bin width 25 HU, Original + LoG 1-5 mm + wavelet; lesion and 0-3 / 3-6 mm rings."),
        ("mr-default", "MR", [], "MR: normalised (x100, outliers at 3 SD), 32 bins, 2 mm isotropic."),
        ("pet-default", "PT", [], "PET: SUVbw, bin width 0.5 SUV, 3 mm isotropic, original image."),
    ]:
        if Profile.objects.filter(name=name).exists():
            continue
        params = validate_params(default_params(modality))
        Profile.objects.create(name=name, version=1, modality=modality, params=params,
                               params_hash=params_hash(params), rings_mm=rings, description=description, active=True)


class Migration(migrations.Migration):
    dependencies = [("imaging", "0003_radiomics")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]

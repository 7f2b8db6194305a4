"""A web process starts light: importing the URL configuration (every view, serializer, admin and receiver) loads
none of the scientific stack — it loads when a request first needs it (radimmuno.lazy)."""
import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ["matplotlib", "scipy", "SimpleITK", "pydicom", "radiomics", "sklearn", "lifelines", "pandas", "highdicom",
         "pynetdicom", "PIL"]
PROBE = """
import json, os, sys
import django
django.setup()
import radimmuno.urls, radimmuno.api_urls
from django.urls import resolve
resolve("/")
loaded = [name for name in %r if name in sys.modules and type(sys.modules[name]).__name__ != "_LazyModule"]
print(json.dumps(loaded))
"""


def test_url_configuration_loads_no_scientific_library():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "radimmuno.settings.test"}
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", PROBE % HEAVY], cwd=root, env=env, capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_the_lazy_modules_load_on_first_use():
    probe = ("import sys; from radimmuno.lazy import lazy_import; pd = lazy_import('pandas'); "
             "before = type(sys.modules['pandas']).__name__; pd.DataFrame; "
             "print(before, type(sys.modules['pandas']).__name__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["_LazyModule", "module"]

"""Production settings refuse to start misconfigured; `check --deploy` is clean when configured."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    full_env.update(DJANGO_SETTINGS_MODULE="radimmuno.settings.production", **env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=120)


GOOD = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
        "DJANGO_ALLOWED_HOSTS": "radimmuno.example.org"}


def test_check_deploy_is_clean():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **GOOD)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.parametrize("override,message", [
    ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG must be off"),
    ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY must be set"),
    ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY must be set"),
    ({"DATABASE_URL": ""}, "DATABASE_URL must point"),
])
def test_production_refuses_to_start(override, message):
    result = run_manage("check", **{**GOOD, **override})
    assert result.returncode != 0 and message in result.stderr

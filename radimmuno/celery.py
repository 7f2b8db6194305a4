"""Celery application.

Without ``CELERY_BROKER_URL`` the project runs tasks in-process (``task_always_eager``), so the app works with
nothing else installed. With a broker (Redis or RabbitMQ), ``celery -A radimmuno worker`` processes them on any
number of machines.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "radimmuno.settings.local")

app = Celery("radimmuno")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

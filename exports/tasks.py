from celery import shared_task

from radimmuno.jobs import run_job

from .models import DatasetExport
from .services import dataset_export_execute


@shared_task(name="exports.run_dataset_export", acks_late=True)
def run_dataset_export(export_id):
    """Write one page export's files and zip (fetch by id; a re-run writes them again)."""
    return run_job(DatasetExport, export_id, dataset_export_execute)

from django.core.management.base import BaseCommand

from imaging.listener import Listener


class Command(BaseCommand):
    help = ("Run a DICOM C-STORE receiver (C-ECHO; CT, MR, PET, Enhanced CT/MR, SEG, RTSTRUCT) that ingests "
            "what PACS and modalities push to it.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=11112)
        parser.add_argument("--ae-title", default="RADIMMUNO")
        parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default all)")
        parser.add_argument("--batch-size", type=int, default=200, help="instances indexed per transaction")
        parser.add_argument("--stock-pynetdicom", action="store_true",
                            help="run pynetdicom without the receive-path shortcuts of imaging.dimse_speedups "
                                 "(slower; for comparison or if a sender misbehaves with them)")

        parser.add_argument("--fsync", action="store_true", default=None,
                            help="acknowledge each file only once it is on disk (fdatasync; default: the setting "
                                 "RADIMMUNO_LISTENER_FSYNC, off)")

    def handle(self, *args, port, ae_title, host, batch_size, stock_pynetdicom, fsync, **options):
        listener = Listener(ae_title=ae_title, host=host, port=port, batch_size=batch_size,
                            speedups=not stock_pynetdicom, fsync=fsync)
        self.stdout.write(f"DICOM listener {ae_title} on {host}:{port} (Ctrl-C to stop)")
        self.stdout.flush()
        try:
            listener.start(block=True)
        except KeyboardInterrupt:
            self.stdout.write("stopped")

"""``manage.py simulate``: the demo plants' simulators until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from connectors.demo_simulators import demo_simulators


class Command(BaseCommand):
    help = (
        "Runs the demo plants' simulators (OPC UA, Modbus, Sparkplug B edge nodes) on the "
        "demo connectors' addresses until stopped (SIGTERM or SIGINT)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-primary-host",
            action="store_true",
            help="Sparkplug edge nodes birth without waiting for the primary host's STATE",
        )
        parser.add_argument(
            "--data-seconds",
            type=float,
            default=None,
            help="edge nodes publish data every N seconds (default: quiet, births only)",
        )

    def handle(self, *args, no_primary_host: bool, data_seconds: float | None, **options):
        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda signum, frame: stop.set())
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            with demo_simulators(
                primary_host=not no_primary_host, data_seconds=data_seconds
            ) as lines:
                for line in lines:
                    self.stdout.write(f"simulate: {line}")
                self.stdout.write("simulate: running; SIGTERM or Ctrl-C stops it")
                self.stdout.flush()
                stop.wait()
        except OSError as exc:
            self.stderr.write(f"simulate: cannot start: {exc}")
            raise SystemExit(1) from exc
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("simulate: stopped")

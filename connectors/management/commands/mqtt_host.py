"""``manage.py mqtt_host``: the Sparkplug B host application, until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from connectors.mqtt_host.runner import HostRunner


class Command(BaseCommand):
    help = (
        "Runs the Sparkplug B host application for every enabled MQTT connector until "
        "stopped (SIGTERM or SIGINT): STATE birth and will, rebirth requests, births, "
        "deaths and data recorded as they arrive; connectors added, changed or removed "
        "are picked up every --poll-seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll-seconds",
            type=float,
            default=3.0,
            help="how often the connectors are read again and the heartbeat moved (default 3)",
        )

    def handle(self, *args, poll_seconds: float, **options):
        if not 0.5 <= poll_seconds <= 10:
            # The heartbeat moves every poll; syncs take a host silent for 15 s as gone.
            self.stderr.write("--poll-seconds: 0.5–10")
            raise SystemExit(2)
        stop = threading.Event()

        def on_signal(signum, frame):
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        runner = HostRunner(poll_seconds=poll_seconds)
        self.stdout.write(f"mqtt_host: running as {runner.process}; SIGTERM or Ctrl-C stops it")
        self.stdout.flush()
        try:
            runner.run(stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("mqtt_host: stopped")

#!/usr/bin/env python
"""Django's command-line utility for the CoE service."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")
    from django.core.management import execute_from_command_line

    from coe.changelog import Origin, change_context

    # Changes made by any command (Django's own too: createsuperuser, loaddata, shell…) are
    # logged with origin "command" and the command's name.
    with change_context(origin=Origin.COMMAND, via=sys.argv[1] if len(sys.argv) > 1 else ""):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

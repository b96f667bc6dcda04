#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    # DEBUG stays as the environment says (off unless DEBUG=true): the embedded default finds its
    # SECRET_KEY in the data folder with DEBUG off too (orchestrator_site/env.py secret_key).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

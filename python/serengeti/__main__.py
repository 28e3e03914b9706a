"""``python -m serengeti``: the ``serengeti`` command (see :mod:`serengeti.cli`)."""
import sys

from serengeti.cli import main

sys.exit(main())

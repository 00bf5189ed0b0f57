import sys

from prospect_core.cli import run

sys.exit(run())

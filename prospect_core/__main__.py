import sys

from prospect_core.cli import main

sys.exit(main())

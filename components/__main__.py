"""``python -m components <command>``: the offline tools (see ``components/tools/cli.py``)."""

import sys

from components.tools.cli import main

sys.exit(main())

"""``python -m plano_tools <command>``: the offline tools (see ``components/plano_tools/cli.py``)."""

import sys

from plano_tools.cli import main

sys.exit(main())

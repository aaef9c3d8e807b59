"""``python -m swssl_lib``: see ``swssl_lib/cli.py`` or ``python -m swssl_lib --help``."""

import sys

from .cli import main

sys.exit(main())

import sys

from .method import main

sys.exit(main())

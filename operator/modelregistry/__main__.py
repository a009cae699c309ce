import sys

from modelregistry.cli import main

sys.exit(main())

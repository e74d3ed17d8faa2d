import sys

from vidfill.cli.main import main

sys.exit(main())

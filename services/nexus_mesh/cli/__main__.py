import sys

from nexus_mesh.cli import main

sys.exit(main())

import sys

from userrunc.main import main

sys.exit(main())

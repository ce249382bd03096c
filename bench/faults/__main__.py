"""`python -m bench.faults`: run the faults and print the table (see `bench.faults.cli`)."""

import sys

from bench.faults.cli import main

if __name__ == '__main__':
    sys.exit(main())

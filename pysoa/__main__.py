"""`python -m pysoa`: the `pysoa` command (see `pysoa.cli`)."""

from pysoa.cli import main

if __name__ == '__main__':
    main()

"""Allow ``python -m oncoresist``."""

from oncoresist.cli import main

if __name__ == "__main__":
    main()

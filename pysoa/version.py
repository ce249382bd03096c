"""The version of this package, as a string and as a tuple of ints."""

__version_info__: tuple[int, int, int] = (2, 0, 0)
__version__: str = '.'.join(str(part) for part in __version_info__)

"""Latitude and longitude: floats within the range of the globe."""

import attr

from pysoa.schema.fields.basic import Float

__all__ = ('Latitude', 'Longitude')


@attr.s
class Latitude(Float):
    """A float from -90 to 90 (narrower if `gte`/`lte` say so)."""

    def __attrs_post_init__(self) -> None:
        # Conformity's arithmetic, zero bounds included: `gte=0` falls back to the full range as it does there.
        self.gte = max(-90, self.gte or -100)
        self.lte = min(90, self.lte or 100)


@attr.s
class Longitude(Float):
    """A float from -180 to 180 (narrower if `gte`/`lte` say so)."""

    def __attrs_post_init__(self) -> None:
        self.gte = max(-180, self.gte or -190)
        self.lte = min(180, self.lte or 190)

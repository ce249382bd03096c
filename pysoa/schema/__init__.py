"""Schemas for settings and action bodies: pysoa's own implementation of the Conformity 1.28 API.

Code written for Conformity moves here by changing the import prefix only (`conformity.fields` becomes
`pysoa.schema.fields`, `conformity.settings` becomes `pysoa.schema.settings`, and so on): the field
names, arguments, error codes, messages, pointers and `introspect()` output are Conformity's. Conformity
is not required; where it is installed, its field objects work inside these schemas and the exceptions
raised here are also instances of Conformity's own.
"""

from pysoa.version import __version__ as _pysoa_version

__all__ = ('CONFORMITY_API_VERSION', 'SCHEMA_VERSION')

CONFORMITY_API_VERSION = '1.28'
"""The Conformity release whose field API, messages and introspection `pysoa.schema` reproduces."""

SCHEMA_VERSION = f'pysoa.schema {_pysoa_version} (Conformity {CONFORMITY_API_VERSION} API)'
"""What the `status` action reports under `conformity` when Conformity itself is not installed."""

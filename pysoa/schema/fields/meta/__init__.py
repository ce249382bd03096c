"""Fields about other fields or about Python objects, under the module path of `conformity.fields.meta`: nullable,
any-of, all-of, polymorphic, boolean-validated and deprecated fields, paths, types and class configuration.
"""

from pysoa.schema.fields.meta.boolean_validator import BooleanValidator
from pysoa.schema.fields.meta.class_configuration import ClassConfigurationSchema
from pysoa.schema.fields.meta.combinators import All, Any
from pysoa.schema.fields.meta.deprecated import Deprecated
from pysoa.schema.fields.meta.nullable import Null, Nullable
from pysoa.schema.fields.meta.polymorph import Polymorph
from pysoa.schema.fields.meta.python_objects import ObjectInstance, PythonPath, TypePath, TypeReference

__all__ = (
    'All',
    'Any',
    'BooleanValidator',
    'ClassConfigurationSchema',
    'Deprecated',
    'Null',
    'Nullable',
    'ObjectInstance',
    'Polymorph',
    'PythonPath',
    'TypePath',
    'TypeReference',
)

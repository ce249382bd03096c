"""The container fields, under the module path of `conformity.fields.structures`: lists, sequences, sets, tuples and
dictionaries, and their optional whole-collection check.
"""

from pysoa.schema.fields.structures.collection_validator import AdditionalCollectionValidator
from pysoa.schema.fields.structures.dictionary import Dictionary
from pysoa.schema.fields.structures.schemaless_dictionary import SchemalessDictionary
from pysoa.schema.fields.structures.sequences import List, Sequence, Set
from pysoa.schema.fields.structures.tuples import Tuple

__all__ = (
    'AdditionalCollectionValidator',
    'Dictionary',
    'List',
    'SchemalessDictionary',
    'Sequence',
    'Set',
    'Tuple',
)

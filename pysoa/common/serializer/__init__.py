"""Serializers: a message dict to bytes and back (MessagePack by default, or JSON)."""

from pysoa.common.serializer.base import Serializer
from pysoa.common.serializer.json_serializer import JSONSerializer
from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer

__all__ = ('JSONSerializer', 'MsgpackSerializer', 'Serializer')

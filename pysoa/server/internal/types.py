"""The switch helpers at the import path PySOA 1.x gave them; they live in `pysoa.server.types`."""

from pysoa.server.types import RequestSwitchSet, SupportsIntValue, SwitchSet, get_switch, is_switch

__all__ = ('RequestSwitchSet', 'SupportsIntValue', 'SwitchSet', 'get_switch', 'is_switch')

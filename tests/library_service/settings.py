"""The echo service's settings (its Redis from `PYSOA_REDIS_URL`, heartbeat files for the test fixture)."""

from examples.echo_service.settings import SOA_SERVER_SETTINGS

__all__ = ('SOA_SERVER_SETTINGS',)

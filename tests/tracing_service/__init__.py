"""Relay services for the tracing tests: `relay` calls the next service of a path through `request.client`."""

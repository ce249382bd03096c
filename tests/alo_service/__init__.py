"""The echo service with at-least-once delivery and a `crash` action, for the fault tests of `test_fault_delivery`."""

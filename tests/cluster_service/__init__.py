"""The at-least-once echo service (`tests.alo_service`) on Redis Cluster, named by `CLUSTER_SERVICE_NAME`."""

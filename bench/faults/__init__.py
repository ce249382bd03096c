"""Faults measured for real (issue 10, item 10): `python -m bench.faults --help`.

Each fault runs against private redis-server processes and real worker processes, under steady traffic from
client threads whose every call carries a unique id; the service records each start and completion of a request
by that id, so the runner can count, per fault and delivery mode, what was answered, failed, lost, duplicated
or hung. See docs/faults.rst for the definitions and the latest table.
"""

"""Redis backends: which Redis server a queue lives on, the connections to reach it, and every command sent on them.

- `base`: the ring of servers, `push` and `pop`; `standard` and `sentinel`: the two kinds of ring;
  `registry`: `backend_type` to class, and the backends shared by equal settings.
- `hosts`: the `hosts` setting read once; `scripts`: the loader of the `.lua` files beside it;
  `direct`: the fast path that drives a thread's own connection, chosen in `direct.execute`.
"""

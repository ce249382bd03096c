"""Redis backends: which Redis server a queue lives on, and the connections to reach it."""

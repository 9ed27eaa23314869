"""One prompt end to end, with no pytest: prepared, checked against the server, queued, its outputs saved."""

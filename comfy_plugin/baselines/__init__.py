"""Baselines of fixed-seed prompts, for every output kind: which prompts are compared and what
a missing baseline means (``regression.py``), the verdicts (``verdict.py``), the baseline files
on disk (``store.py``), what a session records and how pytest-xdist workers hand it over
(``results.py``), pending results and ``--comfy-accept`` (``accept.py``), and time baselines
(``perf.py``). How one kind of output is observed and compared is that kind's (``media/``).
No pytest here; importing this package imports nothing.
"""

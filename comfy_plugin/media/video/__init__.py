"""Animations and videos, an output kind (``kind.py``): read once (``decode.py``), reduced to an
entry whose sampled frames are still images to every metric (``entries.py``), compared
(``comparison.py``) and shown in the report (``card.py``). No pytest here; importing this
package imports nothing heavy (Pillow, numpy and PyAV load when a video appears)."""

"""The kinds of output a prompt makes (still images, and any kind a project adds), each one
module behind the interface of ``kind.py``; ``kinds.py`` is the list a session uses."""

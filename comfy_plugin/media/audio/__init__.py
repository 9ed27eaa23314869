"""Audio outputs: ``kind`` (the OutputKind), ``signal`` (decoding and the measures),
``entries`` (what a baseline keeps), ``comparison`` (an output against its entry)."""

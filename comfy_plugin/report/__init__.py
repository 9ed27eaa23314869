"""The HTML report (``--comfy-report``): prompt cards, review controls, time charts (no pytest)."""

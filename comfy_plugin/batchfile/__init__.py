"""A batch file read and checked: its schema, its prompts, its variables, its workflow (no pytest)."""

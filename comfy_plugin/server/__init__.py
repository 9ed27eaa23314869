"""The ComfyUI a session talks to: launched here or given by URL, its restarts, time and memory."""

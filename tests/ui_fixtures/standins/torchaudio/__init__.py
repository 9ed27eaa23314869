"""An empty stand-in for torchaudio, put on the test server's PYTHONPATH when ComfyUI's venv has
no torchaudio (see tests/ui_fixtures/template_server.py): ComfyUI imports it where it defines
its audio nodes but calls it only when one runs, and the tests that use it never run one."""

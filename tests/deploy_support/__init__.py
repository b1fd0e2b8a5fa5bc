"""Real nginx and gunicorn processes, and an HTTPS client, for tests/test_deploy.py."""

"""Real nginx, gunicorn and Next.js processes, and an HTTPS client, for the deployment tests."""

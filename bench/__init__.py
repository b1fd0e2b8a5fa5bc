"""Load benchmark of GET /api/integrations/status against a bare Flask app (`make bench`)."""

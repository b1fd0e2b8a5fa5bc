"""The HTTP surface: the request path's hooks, and the blueprints the app serves."""

"""Production entry point: `gunicorn wsgi:app`. Configured by FEEDS_* variables."""
from feeds import create_app

app = create_app()

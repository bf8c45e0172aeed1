"""The ASGI entry point servers load: `portal.asgi:app`."""

from portal.app import create_app

app = create_app()

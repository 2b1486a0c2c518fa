"""A WebSub hub for the tests: flask-websub's, its work done by a Celery
worker through Redis, as that project documents it.

    HUB_BROKER=redis://127.0.0.1:PORT/0 HUB_DB=/tmp/hub.sqlite
    python -m gunicorn websub_hub:app                            # the hub's endpoint, at /hub
    python -m celery -A websub_hub:celery worker --pool=solo     # verification, fetching, distribution
"""
import os

from celery import Celery
from flask import Flask
from flask_websub.hub import Hub, SQLite3HubStorage

celery = Celery("websub_hub", broker=os.environ["HUB_BROKER"])
celery.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)

app = Flask(__name__)
app.config["PUBLISH_SUPPORTED"] = True  # publishers may POST hub.mode=publish
hub = Hub(SQLite3HubStorage(os.environ["HUB_DB"]), celery, **app.config, BACKOFF_BASE=0.2, REQUEST_TIMEOUT=5)
app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))

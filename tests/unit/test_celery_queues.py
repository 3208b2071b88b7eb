"""roles/celery/files/app-queues.py: where a real Celery app sends its tasks, read as the celery role reads it."""

import json
import os
import subprocess

from conftest import ROOT

SCRIPT = (ROOT / "roles" / "celery" / "files" / "app-queues.py").read_text()
WEBAPP = ROOT / "tests" / "fixtures" / "webapp"

ROUTED_APP = """
from celery import Celery
from kombu import Queue

celery = Celery("shop", broker="memory://")
celery.conf.task_default_queue = "shop"
celery.conf.task_routes = {"shop.mail": {"queue": "mail"}, "shop.report.*": "reports", "shop.other": {}}

@celery.task(name="shop.resize", queue=Queue("images"))
def resize():
    pass
"""


def queues(python, cwd, app, **env):
    """What the script prints, run in cwd with the environment a host's env file gives the app."""
    proc = subprocess.run([python, "-c", SCRIPT, app], cwd=cwd, capture_output=True, text=True, check=True,
                          env={**os.environ, "SECRET_KEY": "unit-test", "DATABASE_URL": "sqlite://", **env})
    return json.loads(proc.stdout)


def test_the_reference_app_sends_where_a_standard_celery_app_does_unless_told(app_python):
    assert queues(app_python, WEBAPP, "celery_runner") == {"sent": ["celery"], "unlisted": ["celery"]}
    assert queues(app_python, WEBAPP, "celery_runner", CELERY_DEFAULT_QUEUE="webapp") == {
        "sent": ["webapp"], "unlisted": ["webapp"]}


def test_routes_and_a_task_own_queue_count_and_declared_queues_are_what_a_plain_worker_takes(app_python, tmp_path):
    (tmp_path / "shop.py").write_text(ROUTED_APP)
    assert queues(app_python, tmp_path, "shop") == {"sent": ["images", "mail", "reports", "shop"],
                                                     "unlisted": ["shop"]}
    (tmp_path / "shop.py").write_text(ROUTED_APP + 'celery.conf.task_queues = [Queue("shop"), Queue("mail")]\n')
    assert queues(app_python, tmp_path, "shop")["unlisted"] == ["mail", "shop"]

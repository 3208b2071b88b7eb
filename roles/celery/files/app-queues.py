"""Print, as JSON, where a Celery app sends its tasks and what a worker without --queues consumes.

Run in the live release with the app's environment: python -c "$(cat app-queues.py)" CELERY_APP.
`sent`: the default queue, the queues the app's dict routes name and those its tasks set themselves (router
functions cannot be read); `unlisted`: what a worker started without --queues consumes (task_queues when the app
declares them, else the default queue).
"""

import json
import sys

from celery.app.utils import find_app

sys.path.insert(0, "")
app = find_app(sys.argv[1])
conf = app.conf


def queue_name(queue):
    return queue if isinstance(queue, str) else getattr(queue, "name", None)


def route_queues(routes):
    if isinstance(routes, dict):
        routes = [routes]
    for table in routes if isinstance(routes, (list, tuple)) else []:
        for option in table.values() if isinstance(table, dict) else []:
            yield queue_name(option.get("queue") if isinstance(option, dict) else option)


sent = {conf.task_default_queue}
sent.update(route_queues(conf.task_routes or {}))
sent.update(queue_name(getattr(task, "queue", None)) for task in app.tasks.values())
declared = [queue_name(queue) for queue in conf.task_queues or []]
print(json.dumps({"sent": sorted(name for name in sent if name),
                  "unlisted": sorted(name for name in declared if name) or [conf.task_default_queue]}))

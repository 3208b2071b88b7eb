"""Record when each play and task of a run started and ended, for `make bench` (tests/bench/bench.py).

Enabled only by the bench (ANSIBLE_CALLBACKS_ENABLED=bench_timings); writes JSON to $BENCH_TIMINGS_FILE.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timings
type: aggregate
short_description: write play and task timings as JSON for the benchmark report
description: Writes every play's and task's start and end time, role and result counts to $BENCH_TIMINGS_FILE.
requirements: [enabled in ANSIBLE_CALLBACKS_ENABLED]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timings"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.started = time.time()
        self.plays = []
        self.tasks = []

    def _close_task(self):
        now = time.time()
        if self.tasks and self.tasks[-1]["end"] is None:
            self.tasks[-1]["end"] = now

    def v2_playbook_on_play_start(self, play):
        self._close_task()
        now = time.time()
        if self.plays:
            self.plays[-1]["end"] = now
        self.plays.append({"name": play.get_name(), "start": now, "end": None})

    def _task_start(self, task):
        self._close_task()
        role = task._role.get_name() if task._role else None
        self.tasks.append({
            "play": self.plays[-1]["name"] if self.plays else None,
            "role": role,
            "task": task.get_name(),
            "start": time.time(),
            "end": None,
            "results": {},
        })

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task)

    def _count(self, result, outcome):
        if not self.tasks:
            return
        if outcome == "ok" and result._result.get("changed"):
            outcome = "changed"
        counts = self.tasks[-1]["results"]
        counts[outcome] = counts.get(outcome, 0) + 1

    def v2_runner_on_ok(self, result):
        self._count(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._count(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._count(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._close_task()
        now = time.time()
        if self.plays:
            self.plays[-1]["end"] = now
        hosts = sorted(stats.processed.keys())
        summary = {host: stats.summarize(host) for host in hosts}
        path = os.environ.get("BENCH_TIMINGS_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"started": self.started, "ended": now, "plays": self.plays, "tasks": self.tasks,
                           "stats": summary}, handle)

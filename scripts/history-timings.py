#!/usr/bin/env python3
"""Where a visit's time goes, from Temporal's own histories.

Usage: scripts/history-timings.py HISTORY.json [...]
Record histories with:
  temporal workflow show --workflow-id visit-<id> --output json > h.json

Prints, per activity type, the time from its start to its completion, and for
workflow tasks the time queued (scheduled -> started) and run (started ->
completed), as medians and means over every history given.
"""
import datetime
import json
import statistics
import sys


def at(event):
    return datetime.datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00"))


def main(paths):
    samples = {}
    add = lambda key, ms: samples.setdefault(key, []).append(ms)
    for path in paths:
        events = json.load(open(path))["events"]
        by_id = {int(e["eventId"]): e for e in events}
        names = {}
        for e in events:
            kind = e["eventType"]
            if kind.endswith("ACTIVITY_TASK_SCHEDULED"):
                names[int(e["eventId"])] = e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
            elif kind.endswith("ACTIVITY_TASK_COMPLETED"):
                a = e["activityTaskCompletedEventAttributes"]
                started = by_id[int(a["startedEventId"])]
                add(f"activity {names[int(a['scheduledEventId'])]}", (at(e) - at(started)).total_seconds() * 1000)
            elif kind.endswith("WORKFLOW_TASK_STARTED"):
                scheduled = by_id[int(e["workflowTaskStartedEventAttributes"]["scheduledEventId"])]
                add("workflow task queued", (at(e) - at(scheduled)).total_seconds() * 1000)
            elif kind.endswith("WORKFLOW_TASK_COMPLETED"):
                started = by_id[int(e["workflowTaskCompletedEventAttributes"]["startedEventId"])]
                add("workflow task run", (at(e) - at(started)).total_seconds() * 1000)
        add("whole history", (at(events[-1]) - at(events[0])).total_seconds() * 1000)
    for key, values in sorted(samples.items()):
        print(f"{key:40s} n={len(values):5d}  median {statistics.median(values):8.1f} ms  "
              f"mean {statistics.mean(values):8.1f} ms")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])

"""Reads a run's archive the way the seed system's readers do: every
{job_id}/execution-steps/logs/<step>/<seq:06d>.json chunk, checked against the
chunk schema of its finalizer. Prints "<step> <chunks> <events>" per step, in the
order of the steps' last event."""
import json
import os
import re
import sys

run = sys.argv[1]
logs = os.path.join(run, "execution-steps", "logs")
REQUIRED = {"schema_version": int, "job_id": str, "step": str, "sequence": int, "events": list, "created_at": str}
EVENT = {"id": str, "schema_version": int, "job_id": str, "source": str, "phase": str, "stream": str,
         "pod": str, "container": str, "line": str, "ts": str}
steps = []
for step in sorted(os.listdir(logs)):
    path = os.path.join(logs, step)
    if not os.path.isdir(path):
        continue
    names = sorted(n for n in os.listdir(path) if not n.startswith("."))
    last = None
    count = 0
    for i, name in enumerate(names):
        assert re.fullmatch(r"\d{6}\.json", name), name
        assert int(name[:6]) == i, ("sequence gap", step, name)
        with open(os.path.join(path, name)) as f:
            chunk = json.load(f)
        for key, typ in REQUIRED.items():
            assert isinstance(chunk[key], typ), (key, chunk.get(key))
        assert chunk["schema_version"] == 1 and chunk["step"] == step and chunk["sequence"] == i
        for ev in chunk["events"]:
            for key, typ in EVENT.items():
                assert isinstance(ev[key], typ), (key, ev.get(key))
            ms, seq = (int(x) for x in ev["id"].split("-"))
            assert last is None or (ms, seq) > last, ("ids out of order", ev["id"])
            last = (ms, seq)
            count += 1
    steps.append((last, step, len(names), count))
for _, step, chunks, count in sorted(steps):
    print(step, chunks, count)

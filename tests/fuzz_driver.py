"""Runs tests/hostile_worker.py over a list of model files, restarting it after a crash.

`run_corpus(paths)` returns the worker's `ready <delegate library>` line and {path: outcome}: the worker's `done` outcome, or `signal N`,
`exit N`, `hang` (no answer within `timeout` seconds) or `traceback ...` for a failure. The
worker is restarted from the case after the one that killed it, so every case gets an answer.
"""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

WORKER = Path(__file__).with_name("hostile_worker.py")
READY_TIMEOUT = 180.0  # starting TensorFlow on a busy 2-core machine


class _Worker:
    def __init__(self, env):
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env, errors="replace")
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append),
                         daemon=True).start()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink(line.rstrip("\n"))
        sink(None)

    def answer(self, timeout: float) -> str | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return "hang"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def run_corpus(paths: list[Path], *, timeout: float = 60.0, env=None,
               progress=None) -> tuple[str, dict[str, str]]:
    env = dict(os.environ if env is None else env)
    results: dict[str, str] = {}
    pending = [str(p) for p in paths]
    while pending:
        worker = _Worker(env)
        first = worker.answer(READY_TIMEOUT)
        if first is None or not first.startswith("ready "):
            worker.stop()
            raise RuntimeError(f"fuzz worker did not start: {first}\n" + "\n".join(
                line for line in worker.stderr[-30:] if line))
        while pending:
            path = pending.pop(0)
            worker.proc.stdin.write(path + "\n")
            worker.proc.stdin.flush()
            line = worker.answer(timeout)
            if line is not None and line != "hang" and line.split(" ", 2)[1:2] == [path]:
                kind, _, rest = line.split(" ", 2)
                results[path] = rest if kind == "done" else "traceback " + rest
                if progress:
                    progress(len(results), results[path])
                continue
            if line == "hang":
                results[path] = "hang"
                worker.stop()
            else:
                code = worker.proc.wait()
                results[path] = f"signal {-code}" if code < 0 else f"exit {code}"
            tail = [s for s in worker.stderr[-8:] if s]
            results[path] += " | " + " / ".join(tail)
            break
        else:
            worker.proc.stdin.close()
            worker.stop()
            break
        worker.stop()
    return first, results

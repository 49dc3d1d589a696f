"""Run one submitted notebook, inside the sandbox (``python -m kmemlab.grading.runner``).

This is the only grading code that shares a process tree with a student's code, and
nothing it produces is trusted: the grader reads the answer records the student's
``ex.submit()`` calls appended and checks them itself; the executed notebook written here
only becomes the student's feedback. What it does guarantee is *bounded* work: a per-cell
timeout (a cell that ignores the interrupt ends the run instead of making every later cell
wait its full timeout), an output budget (what a cell prints past it is dropped and says
so), a process-count limit, and the executed notebook rewritten after every cell so that a
run killed half-way still leaves what it had.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import nbformat

__all__ = ["main", "run_notebook"]

#: error names the runner writes into cells (the grader reads them for its notes)
TIMEOUT, DEAD, NOT_RUN, STUCK = "CellTimeoutError", "DeadKernelError", "NotRun", "KernelStuck"
#: how long a trivial cell may take after an interrupt before the kernel counts as stuck
PROBE_S = 5
_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error", "update_display_data")


def _add_error(cell, ename: str, evalue: str) -> None:
    cell.setdefault("outputs", []).insert(0, nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))


def _client_class():
    from nbclient import NotebookClient

    class BoundedClient(NotebookClient):
        """nbclient that keeps at most ``max_output`` bytes of output per notebook."""
        max_output = 1 << 20
        used = 0
        dropped = 0

        def process_message(self, msg, cell, cell_index):
            if msg.get("msg_type") in _OUTPUT_TYPES:
                size = len(json.dumps(msg.get("content", {}), default=str))
                if self.used + size > self.max_output:
                    self.dropped += size
                    return None
                self.used += size
            return super().process_message(msg, cell, cell_index)

    return BoundedClient


def _write(nb, path: str) -> None:
    # the output file is one bind-mounted file: rewrite it in place (rename cannot replace it)
    with open(path, "w", encoding="utf-8") as f:
        f.write(nbformat.writes(nb))


def run_notebook(nb, out_path: str, timeout: float, max_output: int, workdir: str) -> dict:
    """Execute every code cell of ``nb`` in a fresh kernel (errors do not stop the run);
    write the executed notebook to ``out_path`` after every cell. Returns a status dict."""
    from nbclient.exceptions import DeadKernelError

    # nbclient's timeout trait is an int; its timeout_func may return any number of seconds
    limit = [float(timeout)]
    client = _client_class()(
        nb, timeout_func=lambda cell: limit[0], kernel_name="python3", allow_errors=True, startup_timeout=60,
        interrupt_on_timeout=True, record_timing=False, shutdown_kernel="immediate",
        error_on_timeout={"ename": TIMEOUT,
                          "evalue": f"the cell ran longer than {timeout:g} s and was interrupted",
                          "traceback": []},
        resources={"metadata": {"path": workdir}})
    client.max_output = max_output
    status = {"cells_run": 0, "timeouts": [], "dead": None, "stuck": None}
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    # the kernel writes nowhere but IOPub: not into the runner's stdout or stderr
    with client.setup_kernel(cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        for n, i in enumerate(code):
            cell = nb.cells[i]
            t0 = time.monotonic()
            try:
                client.execute_cell(cell, i, execution_count=n + 1)
            except DeadKernelError:
                _add_error(cell, DEAD, "the kernel died while running this cell")
                status["dead"] = i
            status["cells_run"] += 1
            timed_out = any(o.get("ename") == TIMEOUT for o in cell.get("outputs", []))
            if not timed_out and status["dead"] is None and time.monotonic() - t0 >= timeout:
                _add_error(cell, TIMEOUT, f"the cell ran longer than {timeout:g} s and was interrupted")
                timed_out = True
            if timed_out:
                status["timeouts"].append(i)
                if not _responsive(client, i, limit):
                    _add_error(cell, STUCK, "the kernel ignored the interrupt and stayed busy; "
                                            "the cells after this one were not run")
                    status["stuck"] = i
            if status["dead"] is not None or status["stuck"] is not None:
                why = "the kernel died" if status["dead"] is not None else "the kernel was stuck"
                for j in code[n + 1:]:
                    _add_error(nb.cells[j], NOT_RUN, f"not run: {why} in an earlier cell")
                _write(nb, out_path)
                break
            _write(nb, out_path)
    if client.dropped:
        nb.metadata.setdefault("kmemlab", {})["output_dropped"] = client.dropped
    _write(nb, out_path)
    return status


def _responsive(client, index: int, limit: list) -> bool:
    """After a timeout: does the kernel run a trivial cell within a few seconds? (a loop
    that ignores SIGINT keeps it busy, and every later cell would wait its full timeout)."""
    probe = nbformat.v4.new_code_cell("pass")
    saved = client.nb.cells[index]      # nbclient stores the executed cell at its index
    old = limit[0], client.iopub_timeout
    limit[0], client.iopub_timeout = PROBE_S, 1
    t0 = time.monotonic()
    try:
        client.execute_cell(probe, index, store_history=False)
    except Exception:                   # noqa: BLE001 — a dead or stuck kernel is "no"
        return False
    finally:
        limit[0], client.iopub_timeout = old
        client.nb.cells[index] = saved
    # nbclient turns a timeout into an error reply without an output: time it
    return time.monotonic() - t0 < PROBE_S


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m kmemlab.grading.runner")
    p.add_argument("--notebook", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--max-output", type=int, required=True)
    p.add_argument("--nproc", type=int, default=0)
    args = p.parse_args(argv)
    if args.nproc:
        # set inside the sandbox's own user namespace: the count is this sandbox's processes
        resource.setrlimit(resource.RLIMIT_NPROC, (args.nproc, args.nproc))
    with open(args.notebook, encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    os.chdir(args.workdir)
    status = run_notebook(nb, args.out, args.timeout, args.max_output, args.workdir)
    print(json.dumps({"kmemlab-runner": status}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

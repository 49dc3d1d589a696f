"""What a hostile student tried against ``kmemlab assign`` / ``kmemlab grade`` (issue 15),
one row per attack; tests/test_grading_attacks.py grades them all in one class and checks
each row, and docs/grading.md lists them.

Every attacker hands in *wrong* answers for both questions of the test notebook, and then
attacks: the check, IPython, the seed, the grader's files and processes, other students.
A row says what must come out: the points (0 unless ``points`` says otherwise) and a note
that must appear in the attacker's notes or feedback (``note``). Whatever the attacks do,
the victim (graded in the same run, with the same job pool) keeps full marks, every row of
grades.csv is there, and no file outside the attacker's sandbox changes.

``code`` is put into the attacker's notebook as a new cell right after the seed cell
(``where="after-seed"``), right before the first graded cell (``"before-check"``, the
default), at the very end (``"end"``), or replaces a cell (``"replace:<grade_id>"``).
``{victim_sub}``, ``{victim_fb}``, ``{grades}``, ``{manifest}``, ``{key}``, ``{marker}``,
``{victim_seed}``, ``{victim_answer1}`` are filled in by the test (:func:`fill`). ``file`` attacks replace
the submitted file itself (a FIFO, a symlink) instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attack:
    name: str
    issue_line: str             # the attack as issue 15 lists it
    code: str = ""
    where: str = "before-check"
    file: str = ""              # "fifo", "symlink-passwd", "folder:<name>"
    points: float = 0.0
    note: str = ""              # must appear in the notes or the feedback
    status: str = "graded"      # graded | not graded


# what the attackers hand in (wrong for every seed: no cache is called kmalloc-7)
WRONG1 = 'answer1 = {"cache": "kmalloc-8", "waste": 100000}'
WRONG2 = "answer2 = -1"

# every top-level folder but the big read-only system ones, searched for the grader's files
_WALK = r'''
import os
def walk(pred):
    hits = []
    for top in sorted(set(os.listdir("/")) - {"usr", "proc", "sys", "dev", "lib", "lib64", "bin", "sbin"}):
        for root, dirs, files in os.walk("/" + top):
            if "site-packages" in root or ".pyenv" in root:
                dirs[:] = []
                continue
            hits += [os.path.join(root, f) for f in files if pred(f)]
    return hits
'''

_FIND = _WALK + r'''
found = walk(lambda f: f.endswith((".manifest.json", ".key", ".csv")) or f == "manifest.json")
found += [p for p in ("{victim_sub}", "{victim_fb}", "{grades}", "{manifest}", "{key}") if os.path.exists(p)]
found += [p for p in os.listdir("/proc") if p.isdigit() and int(p) > 2 and "kmemlab" in open(f"/proc/{p}/cmdline").read()
          and "grade" in open(f"/proc/{p}/cmdline").read() and "runner" not in open(f"/proc/{p}/cmdline").read()]
print("FOUND", sorted(set(found))[:20])
'''

ATTACKS = [
    Attack("check-replaced", "ex1.check = lambda a: True",
           "ex1.check = lambda a: True\nex2.check = lambda a: True\nex1.submit = lambda a: print('PASS kmalloc-cache')",
           note="the self-check was changed or bypassed"),
    Attack("class-check-patched", "patching km.exercises.Exercise.check",
           "import kmemlab.exercises.base as b\n_real = b.Exercise.check\n"
           "def _always(self, a):\n    r = _real(self, a)\n"
           "    return b.CheckResult(r.exercise, r.seed, True, 1.0, r.max_points, r.max_points, ('correct',))\n"
           "b.Exercise.check = _always",
           note="the self-check was changed or bypassed"),
    Attack("bool-patched", "CheckResult.__bool__",
           "import kmemlab.exercises.base as b\nb.CheckResult.__bool__ = lambda self: True\n"
           "b.CheckResult.__str__ = lambda self: 'PASS ' + self.exercise",
           note="the self-check was changed or bypassed"),
    Attack("fake-exercise", "a fake exercise object",
           "class Fake:\n    def submit(self, a):\n        print('PASS kmalloc-cache (seed 1): score 1.00')\n"
           "ex1 = Fake()\nex2 = Fake()",
           note="no answer was handed in"),
    Attack("custom-exc", "get_ipython().set_custom_exc(...)",
           "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\nraise RuntimeError('hidden')",
           note="not full marks"),
    Attack("showtraceback", "replacing showtraceback",
           "get_ipython().showtraceback = lambda *a, **k: None\nget_ipython()._showtraceback = lambda *a, **k: None",
           note="not full marks"),
    Attack("ast-transformer", "an input or AST transformer that drops assert lines",
           "import ast\nclass Drop(ast.NodeTransformer):\n    def visit_Assert(self, node):\n        return None\n"
           "get_ipython().ast_transformers.append(Drop())\n"
           "get_ipython().input_transformers_cleanup.append(lambda lines: [l for l in lines if 'assert' not in l])",
           note="not full marks"),
    Attack("solution-force", "ex1.solution(force=True).answer",
           "answer1 = ex1.solution(force=True).answer", note="unexpected keyword argument 'force'"),
    Attack("instructor-env", "KMEMLAB_INSTRUCTOR=1 set inside the kernel",
           "import os\nos.environ['KMEMLAB_INSTRUCTOR'] = '1'\nanswer1 = ex1.solution().answer",
           note="SolutionLocked"),
    Attack("problem-attribute", "ex._problem",
           "answer1 = {p.name: p.answer for p in ex1._problem.parts}", note="SolutionLocked"),
    Attack("cli-compute", "kmemlab exercise NAME -s SEED -c",
           "import subprocess, sys, json\nout = subprocess.run([sys.executable, '-m', 'kmemlab.cli', 'exercise',"
           " 'kmalloc-cache', '-s', str(SEED), '-c'], capture_output=True, text=True)\n"
           "assert out.returncode == 0, out.stderr\nanswer1 = out.stdout",
           note="only with the instructor's course key"),
    Attack("self-made-key", "a key the student made for themselves (documented: not a wall)",
           "import tempfile, os\nfrom kmemlab.exercises import CourseKey\n"
           "k = CourseKey.new(os.path.join(tempfile.mkdtemp(), 'k'))\n"
           "answer1 = {p: 0 for p in ex1.parts}\nprint('own key works:', bool(ex1.solution(key=k)))",
           note="not full marks"),
    Attack("brute-force", "brute force through ex.check (finds the right answer: noted, not prevented)",
           "import itertools\nsizes = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)\n"
           "n = ex1.params['size']\nfor c in sizes:\n    for w in range(0, 8192):\n"
           "        if ex1.check({'cache': c, 'waste': w}):\n            answer1 = {'cache': c, 'waste': w}\n"
           "            break\n    else:\n        continue\n    break",
           points=2.0, note="self-checked"),
    Attack("seed-in-question", "seed=42 in the question cell",
           'ex1 = km.exercise("kmalloc-cache", seed={victim_seed})\nex1', where="replace:kmalloc-cache-question",
           note="locked cell kmalloc-cache-question modified: restored from the release"),
    Attack("seed-later", "SEED = 42 later in the notebook, then a classmate's answers",
           'SEED = {victim_seed}\nex1 = km.exercise("kmalloc-cache", seed=SEED)\nanswer1 = {victim_answer1}',
           note="graded on your own seed"),
    Attack("seed-cell-new-id", "a new cell id on the seed cell",
           "import kmemlab as km\nSEED = {victim_seed}\n", where="replace-seed-new-id",
           note="graded on your own seed"),
    Attack("read-grader-files", "reading manifest.json, the key, other submissions, the grader's /proc",
           _FIND, note="not full marks"),
    Attack("overwrite-others", "overwriting a not-yet-graded submission or another student's feedback",
           "import os\nfor p in ('{victim_sub}', '{victim_fb}', '{grades}', '{manifest}'):\n"
           "    try:\n        open(p, 'w').write('{}')\n        print('WROTE', p)\n"
           "    except OSError as e:\n        print('refused', p, e)",
           note="not full marks"),
    Attack("patch-package", "patching the installed kmemlab/exercises/base.py",
           "import kmemlab.exercises.base as b, os\n"
           "for f in (b.__file__, os.path.join(os.path.dirname(b.__file__), '__init__.py')):\n"
           "    try:\n        open(f, 'a').write('\\nCheckResult.__bool__ = lambda s: True\\n')\n"
           "    except OSError as e:\n        print('read-only', e)",
           note="not full marks"),
    Attack("detached-rewriter", "a detached process that rewrites grades.csv after the grader exits",
           "import subprocess\nsubprocess.Popen(['sh', '-c', 'sleep 4; echo hacked > {grades}; sleep 300 # {marker}'],"
           " start_new_session=True)\n",
           note="not full marks"),
    Attack("connection-files", "code injected into other students' kernels through their connection files",
           _WALK + "from ipykernel.connect import get_connection_file\n"
           "mine = os.path.basename(get_connection_file())\n"
           "import re\nprint('OTHER KERNELS', [p for p in walk(lambda f: re.fullmatch(r'kernel-[0-9a-f-]+\\.json', f))"
           " if not p.endswith(mine)])",
           note="not full marks"),
    Attack("kill-parent", "os.kill(os.getppid(), 9)",
           "import os\nex1.submit(answer1)\nos.kill(os.getppid(), 9)", where="end",
           note="the run ended early"),
    Attack("sigstop-parent", "SIGSTOP to the grader",
           "import os, signal\nex1.submit(answer1)\nos.kill(os.getppid(), signal.SIGSTOP)\n"
           "os.kill(1, signal.SIGSTOP)", where="end", note="wall-time limit"),
    Attack("kill-everything", "kill(-1, 9): every process it can see",
           "import os\nex1.submit(answer1)\nos.kill(-1, 9)", where="end", note="the run ended early"),
    Attack("fork-bomb", "a fork bomb (process-count limit)",
           "import os\nn = 0\ntry:\n    for _ in range(100000):\n        if os.fork() == 0:\n"
           "            import time; time.sleep(30); os._exit(0)\n        n += 1\nexcept OSError as e:\n"
           "    print('fork refused after', n, e)", note="not full marks"),
    Attack("print-flood", "200 MB of prints",
           "for _ in range(60):\n    print('x' * (1 << 20))", note="bytes of output were dropped"),
    Attack("ignore-interrupt", "a loop that ignores Ctrl-C",
           "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
           note="ignored the interrupt"),
    Attack("network", "reaching the network", "import socket\ntry:\n"
           "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('NET OPEN')\n"
           "except OSError as e:\n    print('no network', e)", note="not full marks"),
    Attack("fifo", "a FIFO named x.ipynb", file="fifo", note="is a FIFO", status="not graded"),
    Attack("symlink", "a symlink to /etc/passwd", file="symlink-passwd",
           note="symlink leaving the student's folder", status="not graded"),
    Attack("formula-folder", "a folder named =1+1", file="folder:=1+1",
           note="not on the release's roster", status="not graded"),
]


PLACEHOLDERS = ("victim_sub", "victim_fb", "grades", "manifest", "key", "marker", "victim_seed",
                "victim_answer1")


def fill(code: str, **values) -> str:
    """``code`` with each ``{placeholder}`` replaced (other braces are left alone)."""
    for k in PLACEHOLDERS:
        code = code.replace("{" + k + "}", str(values[k]))
    return code

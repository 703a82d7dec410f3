"""Every attack of issue 22, replayed from real submission notebooks against the documented command.

Each attacker knows the worst it could: the absolute paths of the hidden checks, the grades, the
other students' feedback, results and submissions (they are written into its code), and it also
looks for them the way the issue's attacks did, walking ``/proc`` up to the grader. The class is
graded twice with ``python -m signbook.course grade``: first two honest students, then the same
folder with the attackers added (``--jobs 2``). Each attack must fail: the honest students' files
are byte for byte what they were, no output holds the hidden checks' secret, nothing reaches the
network, the run completes with a row for everyone, nothing of a submission runs after the grader
has returned, the installed package is unchanged and a wrong answer still scores zero, and the
memory bombs' rows say they hit the limit.

A control grades two of the attacks with ``--no-sandbox`` and shows they succeed there: these
tests can fail. When the tests run as root, the attack run is repeated with the grader itself run
as ``nobody`` (an unprivileged user, as on a CI runner).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from sandboxing import as_nobody, give, processes_with, require_sandbox
from sandboxing import nobody as nobody_user

import signbook.checks
import signbook.course

pytestmark = pytest.mark.slow

SECRET = f"hidden-secret-{uuid.uuid4().hex}"
CHECK = "from signbook.checks import check"
RIGHT_1 = 'answer = 8\ncheck("ex-geometry-1", answer)'
RIGHT_2 = 'answer = 0.3\ncheck("ex-geometry-2", answer)'

FIND_THE_GRADER = """
import json, os
def up(pid):
    stat = open(f"/proc/{pid}/stat", "rb").read()
    return int(stat[stat.rindex(b")") + 2:].split()[1])
seen, pid = [], os.getpid()
while pid > 0:
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        seen.append({"pid": pid, "cmd": [c.decode(errors="replace") for c in cmd],
                     "cwd": os.readlink(f"/proc/{pid}/cwd")})
        pid = up(pid)
    except OSError as err:
        seen.append({"pid": pid, "error": err.strerror})
        break
everyone = []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            everyone.append(open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace"))
        except OSError:
            pass
"""

ATTACKS = {
    # read the hidden checks: walk /proc up to the grader, read its cwd and --hidden argument,
    # then the files; and try the path it already knows. The answer (a string) is echoed into
    # the feedback by the public check's message, the leak.
    "leak": FIND_THE_GRADER
    + """
leak = []
for p in seen:
    cmd = p.get("cmd", [])
    if "--hidden" in cmd:
        folder = os.path.join(p["cwd"], cmd[cmd.index("--hidden") + 1])
        for name in os.listdir(folder):
            leak.append(open(os.path.join(folder, name)).read())
for path in ["@HIDDEN@/geometry.py", "@WORK@"]:
    try:
        leak.append(open(path).read() if os.path.isfile(path) else str(os.listdir(path)))
    except OSError as err:
        leak.append(err.strerror)
answer = json.dumps({"chain": seen, "everyone": everyone, "leak": leak})
check("ex-geometry-1", answer)
""",
    # overwrite the other students' files during the run
    "overwrite": """
done = {}
for path in ["@FEEDBACK@/alice.md", "@STORE@/alice.json", "@SUBS@/alice.ipynb", "@OUT@"]:
    try:
        with open(path, "w") as f:
            f.write("pwned by overwrite")
        done[path] = "written"
    except OSError as err:
        done[path] = err.strerror
answer = str(done)
check("ex-geometry-1", answer)
""",
    # a process in its own session that outlives the kernel and rewrites files later
    "daemon": """
import subprocess, sys
later = '''
import glob, time
time.sleep(6)
for path in ["@OUT@", "@TOTALS@", *glob.glob("@STORE@/*.json"), *glob.glob("/tmp/signbook-box-*/grading/answers.jsonl")]:
    try:
        with open(path, "a") as f:
            f.write('{"exercise": "ex-geometry-1", "answer": 8}\\\\npwned by daemon')
    except OSError:
        pass
'''
subprocess.Popen([sys.executable, "-c", later, "@MARKER@"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""
    + RIGHT_1,
    # kill the grader: everything up the chain, then everything it may signal
    "killer": FIND_THE_GRADER
    + """
import signal
for p in seen[1:]:
    try:
        os.kill(p["pid"], signal.SIGKILL)
    except OSError:
        pass
os.kill(-1, signal.SIGKILL)
""",
    # backdoor the installed checks, and Python's start-up hooks
    "backdoor": """
import os, site, signbook.checks, signbook.course
tried = {}
backdoor = "\\n_REGISTRY.clear()  # pwned by backdoor\\n"
targets = [signbook.checks.__file__, signbook.course.__file__, "@CHECKS_INIT@"]
targets += [os.path.join(p, "sitecustomize.py") for p in site.getsitepackages()]
targets += [os.path.join(p, "zz-backdoor.pth") for p in site.getsitepackages()]
for path in targets:
    try:
        with open(path, "a") as f:
            f.write(backdoor)
        tried[path] = "written"
    except OSError as err:
        tried[path] = err.strerror
answer = str(tried)
check("ex-geometry-1", answer)
""",
    # allocate 8 GB in the answer cell; answer the next one
    "bigalloc": "x = bytearray(8 * 10**9)\ncheck('ex-geometry-1', 8)",
    # reach the network: the grader's machine (a server the test listens on) and the internet
    "network": """
import json, socket
tried = {"interfaces": [n for _, n in socket.if_nameindex()]}
for host, port in [("127.0.0.1", @PORT@), ("1.1.1.1", 53), ("8.8.8.8", 443)]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        tried[host] = "connected"
    except OSError as err:
        tried[host] = type(err).__name__
try:
    tried["dns"] = socket.gethostbyname("pypi.org")
except OSError as err:
    tried["dns"] = type(err).__name__
answer = json.dumps(tried)
check("ex-geometry-1", answer)
""",
    # an answer, then a fork bomb in the background (and the next answer)
    "forkbomb": (
        RIGHT_1,
        """
import subprocess, sys, time
bomb = "import os\\nwhile True:\\n    try:\\n        os.fork()\\n    except OSError:\\n        pass"
subprocess.Popen([sys.executable, "-c", bomb, "@MARKER@"])
time.sleep(30)
""",
    ),
    # a memory bomb in one process: grows until an allocation fails
    "memorybomb": """
hog = []
while True:
    hog.append(b"x" * 10**8)
check("ex-geometry-1", 8)
""",
    # a memory bomb in several processes, each under the per-process limit
    "memoryprocs": """
import subprocess, sys, time
grab = "import time\\na = b'x' * (700 * 2**20)\\ntime.sleep(120)"
kids = [subprocess.Popen([sys.executable, "-c", grab, "@MARKER@"]) for _ in range(4)]
time.sleep(120)
""",
    # 50 MB of output
    "output": "for _ in range(50_000):\n    print('x' * 999)",
}
"""Each attack's cell (or cells), between the import of check and the answer to ex-geometry-2."""


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def notebook(path: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(s).strip()) for s in sources]
    nbformat.write(nb, path)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def nobody_uid() -> int:
    return nobody_user()[0]


class Course:
    """A class's folder: hidden checks, a manifest, submissions, and the grader's outputs."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.hidden = work / "hidden"
        self.subs = work / "subs"
        self.out = work / "out" / "grades.csv"
        self.marker = f"signbook-attack-{uuid.uuid4().hex}"
        for folder in (self.hidden, self.subs, self.out.parent):
            folder.mkdir(parents=True)
        (self.hidden / "geometry.py").write_text(
            f"# {SECRET}\nfrom signbook.course import hidden\n\n\n"
            "@hidden('ex-geometry-1', points=2)\ndef exact(answer):\n    return answer == 8\n"
        )
        self.manifest = work / "grading.json"
        self.manifest.write_text(
            json.dumps(
                {"chapters": {"geometry": {"exercises": ["ex-geometry-1", "ex-geometry-2"]}}}
            )
        )

    def paths(self, port: int) -> dict[str, str]:
        out = self.out.parent
        return {
            "@HIDDEN@": str(self.hidden),
            "@WORK@": str(self.work),
            "@FEEDBACK@": str(out / "feedback"),
            "@STORE@": str(out / "grades.runs"),
            "@SUBS@": str(self.subs),
            "@OUT@": str(self.out),
            "@TOTALS@": str(out / "grades-totals.csv"),
            "@CHECKS_INIT@": str(Path(signbook.checks.__file__).resolve()),
            "@MARKER@": self.marker,
            "@PORT@": str(port),
        }

    def attacker(self, name: str, port: int) -> None:
        cells = ATTACKS[name] if isinstance(ATTACKS[name], tuple) else (ATTACKS[name],)
        for key, value in self.paths(port).items():
            cells = tuple(c.replace(key, value) for c in cells)
        notebook(self.subs / f"{name}.ipynb", CHECK, *cells, RIGHT_2)

    def grade(self, *options: str, nobody: bool = False, sandbox: bool = True):
        command = [sys.executable, "-m", "signbook.course", "grade", str(self.subs)]
        command += ["--out", str(self.out), "--manifest", str(self.manifest)]
        command += ["--hidden", str(self.hidden), "--timeout", "90", "--memory", "2G", *options]
        if not sandbox:
            command.append("--no-sandbox")
        if nobody:
            give(self.work)
            command = as_nobody(command, self.work.parent / f"{self.work.name}-stage")
        return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=self.work)

    def outputs(self) -> list[Path]:
        return [p for p in self.out.parent.rglob("*") if p.is_file()]

    def run_of(self, student: str) -> dict:
        return json.loads((self.out.parent / "grades.runs" / f"{student}.json").read_text())

    def rows(self) -> dict[tuple[str, str], dict]:
        return {(r["student"], r["exercise"]): r for r in read_csv(self.out)}


@pytest.fixture
def course_folder():
    """A class's folder under /tmp (enterable by nobody), removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="signbook-attack-"))
    os.chmod(work, 0o755)
    yield Course(work)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(work.parent / f"{work.name}-stage", ignore_errors=True)


def attack(course: Course, nobody: bool) -> None:
    require_sandbox()
    notebook(course.subs / "alice.ipynb", CHECK, RIGHT_1, RIGHT_2)
    notebook(course.subs / "bob.ipynb", CHECK, 'check("ex-geometry-1", 7)', RIGHT_2)
    first = course.grade(nobody=nobody)
    assert first.returncode == 0, first.stderr
    if nobody:  # the grader itself ran as nobody: its files are nobody's
        assert os.stat(course.out).st_uid == nobody_uid()
    out = course.out.parent
    aimed = [out / "feedback" / "alice.md", out / "feedback" / "bob.md"]
    aimed += [out / "grades.runs" / "alice.json", out / "grades.runs" / "bob.json"]
    aimed += [course.subs / "alice.ipynb", course.hidden / "geometry.py"]
    aimed += [Path(signbook.checks.__file__), Path(signbook.course.__file__)]
    before = {path: sha(path) for path in aimed}
    honest_rows = {k: v for k, v in course.rows().items() if k[0] in ("alice", "bob")}

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    for name in ATTACKS:
        course.attacker(name, port)
    start = time.monotonic()
    second = course.grade("--jobs", "2", nobody=nobody)
    returned = time.monotonic()
    assert second.returncode == 0, second.stderr
    print(second.stdout)
    final = {p: p.read_bytes() for p in course.outputs()}

    # the run completed, with a row for every student and exercise
    rows = course.rows()
    students = {"alice", "bob", *ATTACKS}
    assert {s for s, _ in rows} == students
    assert len(rows) == 2 * len(students)
    # the honest students' files and rows are what they were
    assert {path: sha(path) for path in aimed} == before
    assert {k: v for k, v in rows.items() if k[0] in ("alice", "bob")} == honest_rows
    # nothing of a submission runs after the grader returned, or changes a file later
    time.sleep(max(0.0, 9 - (returned - start)) + 1)
    assert processes_with(course.marker) == []
    assert {p: p.read_bytes() for p in course.outputs()} == final
    for path in [*out.glob("*.csv"), *out.glob("feedback/*.md")]:
        assert b"pwned" not in path.read_bytes(), path
    # no output holds the hidden checks' secret
    for data in final.values():
        assert SECRET.encode() not in data

    # leak: the attacker saw no process of the grader and could not read the hidden folder
    leak = json.loads(course.run_of("leak")["report"]["answers"]["ex-geometry-1"])
    commands = [" ".join(p.get("cmd", [])) for p in leak["chain"]] + leak["everyone"]
    assert not any("signbook.course" in c or "--hidden" in c for c in commands), commands
    assert len(leak["everyone"]) <= 4  # the sandbox's own: bwrap's init, runner, kernel
    assert set(leak["leak"]) == {"No such file or directory"}
    # overwrite: every write failed, as the files are not there
    assert "written" not in course.run_of("overwrite")["report"]["answers"]["ex-geometry-1"]
    # killer: its own run ended early, everyone else's went on (checked above)
    assert rows[("killer", "ex-geometry-2")]["points"] == "0"
    # backdoor: nothing written; a wrong answer still scores zero after it
    tried = course.run_of("backdoor")["report"]["answers"]["ex-geometry-1"]
    assert "written" not in tried and "Read-only file system" in tried
    again = course.grade("--only", "bob", nobody=nobody)
    assert again.returncode == 0, again.stderr
    assert course.rows()[("bob", "ex-geometry-1")]["points"] == "0"
    # network: only loopback inside, nothing reached the test's server or the internet
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()
    tried = json.loads(course.run_of("network")["report"]["answers"]["ex-geometry-1"])
    assert tried["interfaces"] == ["lo"] and "connected" not in tried.values()
    assert tried["dns"] in ("gaierror", "OSError")
    # memory: the 8 GB allocation, the bomb and the processes all hit the 2 GiB limit
    assert rows[("bigalloc", "ex-geometry-1")]["message"].endswith(
        "raised MemoryError: it hit the sandbox's 2 GiB memory limit"
    )
    assert rows[("bigalloc", "ex-geometry-2")]["message"] == "correct"
    assert (
        "raised MemoryError: it hit the sandbox's 2 GiB memory limit"
        in (rows[("memorybomb", "ex-geometry-1")]["message"])
    )
    assert (
        "the notebook was stopped at the sandbox's 2 GiB memory limit"
        in (rows[("memoryprocs", "ex-geometry-2")]["message"])
    )
    totals = {r["student"]: r for r in read_csv(course.out.parent / "grades-totals.csv")}
    assert "memory limit" in totals["memoryprocs"]["status"]
    # the fork bomb is stopped at once (the answer before it counts); 50 MB of output is fine
    assert rows[("forkbomb", "ex-geometry-1")]["message"] == "correct"
    assert rows[("forkbomb", "ex-geometry-2")]["message"].endswith(
        "never ran: the notebook was stopped at the sandbox's limit of 256 processes, "
        "in cell 3 (`import subprocess, sys, time`)"
    )
    assert float(totals["forkbomb"]["run_seconds"]) < 60
    assert rows[("output", "ex-geometry-2")]["message"] == "correct"


def test_every_attack_fails(course_folder):
    attack(course_folder, nobody=False)


def test_every_attack_fails_with_the_grader_run_as_nobody(course_folder):
    if os.geteuid() != 0:
        pytest.skip("the tests run as an ordinary user already: test_every_attack_fails is this")
    attack(course_folder, nobody=True)


def test_the_control_without_the_sandbox_the_leak_and_the_overwrite_succeed(course_folder):
    """The same two attacks with --no-sandbox: they work, so the tests above can fail."""
    course = course_folder
    notebook(course.subs / "alice.ipynb", CHECK, RIGHT_1, RIGHT_2)
    first = course.grade(sandbox=False)
    assert first.returncode == 0, first.stderr
    for name in ("leak", "overwrite"):
        course.attacker(name, 9)
    second = course.grade(sandbox=False)
    assert second.returncode == 0, second.stderr
    assert "SUBMISSIONS RUN WITH YOUR POWERS" in second.stdout
    leak = json.loads(course.run_of("leak")["report"]["answers"]["ex-geometry-1"])
    assert any(SECRET in text for text in leak["leak"])
    assert (course.out.parent / "feedback" / "alice.md").read_text() == "pwned by overwrite"

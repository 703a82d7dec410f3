"""signbook.sandbox: what a sandboxed command sees, what it may use, and that it ends with all it started.

The pure parts (paths, limits, the command line) are tested directly; the rest runs small Python
scripts in a real bubblewrap sandbox (a fraction of a second each) and checks, from outside, what
they could reach. Each script writes what it saw to a JSON file in its own folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from sandboxing import processes_with, require_sandbox

from signbook import sandbox as sb
from signbook.sandbox import GiB, Limits, MiB, Sandbox

ENV = {"PATH": "/usr/bin:/bin", "HOME": "/home/s", "LANG": "C.UTF-8"}


# ---- pure parts ---------------------------------------------------------------------------------
def test_limits_refuse_what_cannot_work():
    assert Limits().memory == 4 * GiB
    with pytest.raises(ValueError, match="memory must be at least 256 MiB"):
        Limits(memory=100 * MiB)
    with pytest.raises(ValueError, match="processes must be at least 16"):
        Limits(processes=4)
    with pytest.raises(ValueError, match="disk must be a positive integer"):
        Limits(disk=0)


def test_outermost_keeps_only_the_folders_not_inside_another(tmp_path):
    a, b = tmp_path / "a", tmp_path / "a" / "b"
    assert sb.outermost([b, a, b, tmp_path / "c"]) == [a, tmp_path / "c"]


def test_exposed_finds_a_secret_inside_a_visible_folder_through_links(tmp_path):
    env = tmp_path / "env"
    (env / "site").mkdir(parents=True)
    hidden = env / "site" / "hidden"
    hidden.mkdir()
    link = tmp_path / "link"
    link.symlink_to(hidden)
    outside = tmp_path / "private"
    outside.mkdir()
    assert sb.exposed([outside], [env]) == []
    assert sb.exposed([hidden, link], [env]) == [(hidden, env), (link, env)]
    assert sb.exposed([env], [env]) == [(env, env)]


def test_reachable_needs_the_search_bit_on_every_folder_above(tmp_path):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    os.chmod(tmp_path / "a", 0o700)
    owner = os.stat(tmp_path / "a").st_uid
    assert sb.reachable(inner, owner, -1)
    assert not sb.reachable(inner, owner + 12345, -1)  # a stranger: no o+x on a/
    os.chmod(tmp_path / "a", 0o711)
    assert sb.reachable(inner, owner + 12345, -1) == bool(os.stat(tmp_path).st_mode & 0o001)


def test_disk_usage_counts_blocks_and_entries_and_stops_counting(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x" * 100_000)
    (tmp_path / "sparse").write_bytes(b"")
    os.truncate(tmp_path / "sparse", 10**9)  # a hole: no disk
    size, count = sb.disk_usage([tmp_path], 1000)
    assert count == 3 and 100_000 <= size < 200_000
    for k in range(50):
        (tmp_path / f"e{k}").touch()
    assert sb.disk_usage([tmp_path], 10)[1] <= 10 + 53  # stops after the folder that passes 10


def test_descendants_of_a_process_tree():
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while len(sb.descendants(parent.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        kids = sb.descendants(parent.pid)
        assert len(kids) == 1 and parent.pid not in kids
        assert sb.descendants(os.getpid()) >= kids | {parent.pid}
    finally:
        for pid in sb.descendants(parent.pid):
            os.kill(pid, 9)
        parent.kill()
        parent.wait()


def test_the_command_line_binds_read_only_and_hides_the_rest(tmp_path):
    if sb.bwrap() is None:  # the command line names bwrap's path: fail under CI, skip elsewhere
        require_sandbox()
    box = Sandbox([Path(sys.prefix)], isolate=True)
    cmd = box.command(["python", "x.py"], {"/home/s": tmp_path}, "/home/s", {"A": "1"})
    text = " ".join(cmd)
    assert cmd[0] == sb.bwrap()
    for flag in ("--unshare-all", "--unshare-user", "--die-with-parent"):
        assert flag in cmd
    assert ("--disable-userns" in cmd) == sb._supports("--disable-userns")  # bubblewrap >= 0.8
    assert "--new-session" in cmd and "--clearenv" in cmd
    assert f"--ro-bind {sys.prefix} {sys.prefix}" in text
    assert f"--bind {tmp_path} /home/s" in text
    assert "--remount-ro / --chdir /home/s" in text
    assert text.endswith("-- python x.py")
    assert "--setenv A 1" in text and "--processes 256" in text


def test_launcher_joins_the_cgroup_and_stages_what_the_sandbox_user_cannot_reach(tmp_path):
    cg = sb.MemoryCgroup(tmp_path / "cg", 1)
    plain = sb.launcher(["bwrap", "x"], None, {}, None)
    assert plain == ["bwrap", "x"]
    staged = {Path("/root/py"): tmp_path / "0"}
    cmd = sb.launcher(["bwrap", "x"], (65534, 65534), staged, cg)
    assert cmd[:5] == ["unshare", "--mount", "--propagation", "private", "--"]
    script = cmd[7]
    assert f"SIGNBOOK_CGROUP_PROCS='{tmp_path / 'cg' / 'cgroup.procs'}'" in script
    assert cmd[8:12] == ["sh", "/root/py", str(tmp_path / "0"), "--"]
    assert cmd[12:] == [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        "bwrap",
        "x",
    ]


def test_usage_reads_memory_threads_and_cpu_from_proc():
    here = sb.usage([os.getpid()])
    assert here.memory > 10 * MiB and here.threads >= 1 and here.cpu > 0
    assert sb.usage([2**22 + 12345]) == sb.Usage()  # no such process: nothing


def test_who_the_sandbox_runs_as_and_how_an_outcome_reads():
    user = sb.sandbox_user()
    assert (user is None) == (os.geteuid() != 0)
    assert user is None or user[0] != 0
    assert not sb.Outcome(0, 1.0).hit_memory
    assert sb.Outcome(None, 1.0, stopped="memory").hit_memory
    assert sb.Outcome(-9, 1.0, oom_killed=True).hit_memory


def test_outside_paths_leave_the_python_environment_alone():
    """--no-sandbox runs map inside paths to the grader's folders, but not the environment's own
    paths: a venv under /tmp must not become <box>/tmp/... when the run's /tmp is a writable one."""
    writable = {"/tmp": Path("/box/tmp"), "/home/s": Path("/box/home")}
    env = [Path("/tmp/clone/.venv")]
    assert (
        sb._outside("/tmp/clone/.venv/bin/python", writable, env) == "/tmp/clone/.venv/bin/python"
    )
    assert sb._outside("/tmp/clone/.venv/bin/python", writable) == "/box/tmp/clone/.venv/bin/python"
    assert sb._outside("/tmp/x", writable, env) == "/box/tmp/x"
    assert sb._outside("/home/s/a.ipynb", writable, env) == "/box/home/a.ipynb"


# ---- in a real sandbox -------------------------------------------------------------------------
def run_script(tmp_path: Path, code: str, limits: Limits | None = None, timeout=30, isolate=True):
    """Run ``code`` as ``/home/s/script.py`` in a sandbox; (its outcome, what it wrote to seen.json)."""
    require_sandbox()
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "script.py").write_text(textwrap.dedent(code))
    box = Sandbox(sb.python_paths(sys.executable), limits or Limits(), isolate=isolate)
    outcome = box.run(
        [sys.executable, "script.py"],
        writable={"/home/s": home},
        cwd="/home/s",
        env=ENV,
        timeout=timeout,
    )
    seen = home / "seen.json"
    return outcome, (json.loads(seen.read_text()) if seen.exists() else None)


@pytest.mark.parametrize("isolate", [True, False], ids=["sandbox", "no-sandbox"])
def test_a_python_environment_under_tmp_stays_visible_inside_a_private_tmp(tmp_path, isolate):
    """The grader gives each run a private, writable /tmp. A folder of the Python environment that
    lives under the host's /tmp (a clone in /tmp/...) is mounted after it, not hidden by it, and
    keeps its name with --no-sandbox."""
    require_sandbox()
    env = tmp_path / "env"  # under /tmp (pytest's tmp_path), like a venv of a clone there
    env.mkdir()
    (env / "marker.py").write_text("print('the environment is visible')")
    home, private = tmp_path / "home", tmp_path / "private-tmp"
    home.mkdir()
    private.mkdir()
    visible = [*sb.python_paths(sys.executable), env]
    box = Sandbox(visible, Limits(), isolate=isolate)
    outcome = box.run(
        [sys.executable, str(env / "marker.py")],
        writable={"/home/s": home, "/tmp": private},
        cwd="/home/s",
        env=ENV,
        timeout=30,
    )
    assert outcome.returncode == 0, outcome.stderr


def test_the_sandbox_sees_only_the_system_python_and_its_folder(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the hidden checks")
    code = f"""
        import json, os
        seen = {{"uid": os.getuid(), "root": sorted(os.listdir("/")), "home": sorted(os.listdir("."))}}
        seen["procs"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        seen["cmdlines"] = [open(f"/proc/{{p}}/cmdline", "rb").read().decode(errors="replace") for p in seen["procs"]]
        for name, path in {{"secret": {str(secret)!r}, "tmp": "/tmp", "host": "/root"}}.items():
            try:
                seen[name] = sorted(os.listdir(path)) if os.path.isdir(path) else open(path).read()
            except OSError as err:
                seen[name] = err.strerror
        writes = {{}}
        for path in ["/usr/x", "/etc/x", {str(Path(sys.prefix) / "x")!r}, {str(Path(sb.__file__).parent / "x")!r}, "/x", "/dev/x"]:
            try:
                open(path, "w").write("x")
                writes[path] = "written"
            except OSError as err:
                writes[path] = err.strerror
        seen["writes"] = writes
        seen["env"] = dict(os.environ)
        json.dump(seen, open("seen.json", "w"))
    """
    outcome, seen = run_script(tmp_path, code)
    assert outcome.returncode == 0, outcome.stderr
    assert seen["uid"] != 0 or os.geteuid() != 0  # a root grader's sandbox runs as nobody
    assert seen["home"] == ["script.py"]
    visible = sb.python_paths(sys.executable)
    tops = {p.parts[1] for p in visible} | {"usr", "etc", "proc", "dev", "home"}
    tops |= {top.strip("/") for top in sb.MERGED if os.path.lexists(top)}
    assert set(seen["root"]) == tops  # no /sys, /srv, /mnt, /var, host /tmp...
    under_root = {p.parts[2] for p in visible if p.parts[1] == "root" and len(p.parts) > 2}
    assert seen["host"] in ("No such file or directory", sorted(under_root))
    assert seen["secret"] == "No such file or directory"
    # /tmp holds at most the way to a Python environment that lives there (a clone in /tmp/...)
    under_tmp = {p.parts[2] for p in visible if p.parts[1] == "tmp" and len(p.parts) > 2}
    assert seen["tmp"] in ("No such file or directory", [], sorted(under_tmp))
    assert len(seen["procs"]) <= 3 and all("pytest" not in c for c in seen["cmdlines"])
    assert set(seen["writes"].values()) == {"Read-only file system"}, seen["writes"]
    assert seen["env"].keys() <= set(ENV) | {"PWD", "LC_CTYPE"}
    assert (
        not list((Path(sb.__file__).parent).glob("x")) and secret.read_text() == "the hidden checks"
    )


def test_no_network_only_loopback(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    code = f"""
        import json, socket
        seen = {{"interfaces": [name for _, name in socket.if_nameindex()]}}
        for host in ["127.0.0.1", "1.1.1.1", "10.0.0.1"]:
            try:
                socket.create_connection((host, {port}), timeout=2).close()
                seen[host] = "connected"
            except OSError as err:
                seen[host] = type(err).__name__
        json.dump(seen, open("seen.json", "w"))
    """
    outcome, seen = run_script(tmp_path, code)
    server.setblocking(False)
    with pytest.raises(BlockingIOError):  # a connection that reached us would wait here
        server.accept()
    server.close()
    assert outcome.returncode == 0, outcome.stderr
    assert seen["interfaces"] == ["lo"]
    assert "connected" not in seen.values(), seen
    # the control: the same script outside the sandbox reaches the server
    server = socket.create_server(("127.0.0.1", port))
    _, seen = run_script(tmp_path, code, isolate=False)
    server.close()
    assert seen["127.0.0.1"] == "connected"


def test_a_fork_bomb_is_stopped_at_the_process_limit_with_all_it_started(tmp_path):
    marker = f"signbook-bomb-{uuid.uuid4().hex}"
    code = f"""
        import os
        while True:
            try:
                if os.fork() == 0:
                    os.execvp("sleep", ["sleep", "600", "{marker}"])
            except OSError:
                pass
    """
    outcome, _ = run_script(tmp_path, code, Limits(processes=64), timeout=60)
    assert outcome.stopped == "processes" and outcome.seconds < 10, outcome
    assert _processes_with(marker) == []  # the sandbox's end killed every one of them


def test_the_process_limit_holds_inside_the_sandbox(tmp_path):
    """Below the watchdog's reach (it looks every 0.1 s), RLIMIT_NPROC stops the forks."""
    code = """
        import json, os, time
        made, failed = 0, 0
        while made + failed < 200:
            try:
                if os.fork() == 0:
                    time.sleep(600)
                made += 1
            except OSError:
                failed += 1
        json.dump({"made": made, "failed": failed}, open("seen.json", "w"))
    """
    outcome, seen = run_script(tmp_path, code, Limits(processes=400), timeout=60)
    assert seen == {"made": 200, "failed": 0} and outcome.stopped is None  # allowed: < 400
    (tmp_path / "home" / "seen.json").unlink()
    code = code.replace("made + failed < 200", "made + failed < 2000")
    outcome, seen = run_script(tmp_path, code, Limits(processes=32), timeout=60)
    if seen is None:  # the watchdog was first
        assert outcome.stopped == "processes"
    else:
        assert seen["made"] < 32 and seen["failed"] > 0


@pytest.mark.slow
def test_many_busy_processes_are_stopped_at_the_cpu_budget(tmp_path):
    code = """
        import subprocess, sys
        spin = "while True: pass"
        kids = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(4)]
        while True:
            pass
    """
    outcome, _ = run_script(tmp_path, code, Limits(cpu_seconds=3), timeout=60)
    assert outcome.stopped == "cpu" and outcome.seconds < 20, outcome


def test_a_session_leader_started_inside_does_not_outlive_the_sandbox(tmp_path):
    marker = f"signbook-daemon-{uuid.uuid4().hex}"
    code = f"""
        import subprocess
        subprocess.Popen(["sleep", "600", "{marker}"], start_new_session=True)
    """
    outcome, _ = run_script(tmp_path, code)
    assert outcome.returncode == 0, outcome.stderr
    assert _processes_with(marker) == []


def test_past_its_time_the_whole_sandbox_is_killed(tmp_path):
    marker = f"signbook-slow-{uuid.uuid4().hex}"
    code = f"""
        import subprocess, time
        subprocess.Popen(["sleep", "600", "{marker}"])
        time.sleep(600)
    """
    outcome, _ = run_script(tmp_path, code, timeout=2)
    assert outcome.stopped == "time" and 2 <= outcome.seconds < 10
    assert _processes_with(marker) == []


def test_memory_one_allocation_fails_and_many_processes_are_stopped(tmp_path):
    code = """
        import json
        try:
            x = bytearray(8 * 2**30)
            seen = "allocated"
        except MemoryError:
            seen = "MemoryError"
        json.dump(seen, open("seen.json", "w"))
    """
    outcome, seen = run_script(tmp_path, code, Limits(memory=1 * GiB))
    assert outcome.returncode == 0 and seen == "MemoryError"
    # five processes of 400 MB each: every one is under the per-process limit, together over it
    code = """
        import subprocess, sys, time
        grab = "import time; a = b'x' * (400 * 2**20); time.sleep(60)"
        kids = [subprocess.Popen([sys.executable, "-c", grab]) for _ in range(5)]
        time.sleep(60)
    """
    outcome, _ = run_script(tmp_path, code, Limits(memory=1 * GiB), timeout=40)
    assert outcome.hit_memory, outcome
    assert outcome.seconds < 35


def test_files_past_the_size_limit_fail_and_past_the_disk_limit_stop_the_run(tmp_path):
    code = """
        import json
        try:
            open("big", "wb").write(b"x" * (2 * 2**20))
            seen = "written"
        except OSError as err:
            seen = err.strerror
        json.dump(seen, open("seen.json", "w"))
    """
    limits = Limits(file_size=1 * MiB, disk=8 * MiB)
    outcome, seen = run_script(tmp_path, code, limits)
    assert seen == "File too large" and outcome.returncode == 0
    code = """
        import time
        for k in range(40):
            open(f"f{k}", "wb").write(b"x" * 2**20)
        time.sleep(30)
    """
    outcome, _ = run_script(tmp_path, code, limits, timeout=25)
    assert outcome.stopped == "disk" and outcome.seconds < 10


def test_without_isolation_the_same_limits_and_the_same_end(tmp_path):
    marker = f"signbook-plain-{uuid.uuid4().hex}"
    code = f"""
        import json, os, subprocess
        subprocess.Popen(["sleep", "600", "{marker}"])
        json.dump(os.getcwd(), open("seen.json", "w"))
        try:
            bytearray(2 * 2**30)
        except MemoryError:
            open("memory", "w").write("MemoryError")
    """
    outcome, seen = run_script(tmp_path, code, Limits(memory=1 * GiB), isolate=False)
    assert outcome.returncode == 0, outcome.stderr
    assert seen == str(tmp_path / "home")  # the command sees the folder under its own name
    assert (tmp_path / "home" / "memory").read_text() == "MemoryError"
    assert _processes_with(marker) == []


def _processes_with(marker: str) -> list[int]:
    time.sleep(0.3)  # the kernel reaps a killed namespace's processes asynchronously
    return processes_with(marker)

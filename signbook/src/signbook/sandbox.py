"""A bubblewrap sandbox for code nobody vouches for: what it sees, what it may use, how it ends.

The grader runs every submitted notebook through :class:`Sandbox`. Bubblewrap (``bwrap``, the sandbox
Flatpak uses; Debian's ``bubblewrap`` package, no daemon, no root) starts the command in new Linux
namespaces:

- **its own user, PID, network, IPC, UTS and cgroup namespaces**: it sees only its own processes
  (``/proc`` is the sandbox's), has a loopback interface and no other (no network), cannot signal
  anything outside, and cannot create further user namespaces (``--disable-userns``);
- **a file system made for it**: ``/usr``, ``/etc`` and the Python environments the command needs,
  read-only; the writable folders it is given (:meth:`Sandbox.run`'s ``writable``, on disk, counted
  against the disk limit); a minimal ``/dev``, read-only. Nothing else of the machine: no ``/home``,
  ``/root``, ``/srv``, ``/sys`` or the host's ``/tmp``;
- **an end**: ``--die-with-parent`` and the PID namespace, whose first process is bwrap's own: when
  the command exits, or the grader kills bwrap, or the grader dies, the kernel kills every process
  left in the namespace, including one that called ``setsid`` (``start_new_session=True``);
- ``--new-session``, so it has no controlling terminal to push keystrokes into.

When the grader runs as root, the sandbox runs as an unprivileged user (``nobody``): root inside a
user namespace is still root for the process-count limit and for files the namespace can reach.

Limits (:class:`Limits`) are set by :func:`limit` *inside* the sandbox, after its user namespace
exists, so the process count is the sandbox's own (a fork bomb in one sandbox leaves the others and
the grader their processes), and watched from outside by :meth:`Sandbox.run` every 0.1 s: the
memory, threads and CPU time of all the sandbox's processes together, the bytes and files written
to its folders, and the wall clock; past any of them the whole sandbox is killed and
:class:`Outcome` says which. Where the grader may create a memory
cgroup (root on cgroup v1, or a cgroup v2 tree with the memory controller delegated), the sandbox
also runs in one capped at the memory limit, a hard limit the kernel enforces between two polls.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

GiB = 1024**3
MiB = 1024**2

POLL = 0.1
"""Seconds between two looks at the sandbox's memory and clock (its disk: every :data:`DISK_POLL`)."""

DISK_POLL = 1.0

SYSTEM = ("/usr", "/etc")
"""System folders every sandbox sees, read-only (``/bin``, ``/lib``, ... follow them)."""

MERGED = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Top-level folders that are links into ``/usr`` on a merged-/usr system, or folders elsewhere."""

HINT = (
    "the sandbox needs unprivileged user namespaces: check `sysctl user.max_user_namespaces` (> 0), "
    "`sysctl kernel.unprivileged_userns_clone` (1, Debian kernels) and, on Ubuntu 23.10 and later, "
    "`sysctl kernel.apparmor_restrict_unprivileged_userns` (0, or an AppArmor profile for bwrap)"
)


class SandboxError(RuntimeError):
    """The sandbox could not be set up: a fault of the machine or the grader, never of a submission."""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use.

    ``memory``: bytes, for each process (``RLIMIT_AS``: an allocation past it fails with
    ``MemoryError``) and for all of them together (the watchdog, and the cgroup where there is one);
    ``cpu_seconds``: CPU time of each process (``RLIMIT_CPU``) and of all together (the watchdog);
    ``processes``: processes and threads of the sandbox (``RLIMIT_NPROC``, counted in its own user
    namespace; the watchdog stops a sandbox that reaches it, so that a fork bomb's spinning
    processes do not starve the other sandboxes for long); ``file_size``: bytes of
    any one file it writes (``RLIMIT_FSIZE``); ``disk``: bytes and ``files``: entries in its
    writable folders together; ``open_files``: ``RLIMIT_NOFILE``.
    """

    memory: int = 4 * GiB
    cpu_seconds: int = 1200
    processes: int = 256
    file_size: int = 256 * MiB
    disk: int = 1 * GiB
    files: int = 20_000
    open_files: int = 1024

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if self.memory < 256 * MiB:
            raise ValueError(f"memory must be at least 256 MiB (got {self.memory} bytes)")
        if self.processes < 16:
            raise ValueError(f"processes must be at least 16 (got {self.processes})")


@dataclass
class Outcome:
    """How a sandboxed run ended.

    ``stopped`` says why the watchdog killed it: ``"time"`` (wall clock), ``"memory"``, ``"disk"``,
    ``"processes"`` (it reached the process limit: a fork bomb), ``"cpu"`` (its processes together
    used ``cpu_seconds``) or ``"cancelled"`` (the grader was interrupted); None: it ended by
    itself, with ``returncode``. ``oom_killed``: the cgroup's out-of-memory killer fired.
    ``memory_peak``: the largest total memory of its processes seen (bytes). ``stderr``: the end of
    what the sandbox printed there (bwrap's own errors among it).
    """

    returncode: int | None
    seconds: float
    stopped: str | None = None
    oom_killed: bool = False
    memory_peak: int = 0
    stderr: str = ""

    @property
    def hit_memory(self) -> bool:
        """True when the run was stopped for memory, by the watchdog or the cgroup."""
        return self.stopped == "memory" or self.oom_killed


def bwrap() -> str | None:
    """The path of bubblewrap's ``bwrap``, or None when it is not installed."""
    return shutil.which("bwrap")


@functools.cache
def _supports(option: str) -> bool:
    """True when this bubblewrap knows ``option`` (its ``--help`` lists it)."""
    path = bwrap()
    if path is None:
        return False
    try:
        done = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError, TypeError):
        return False
    return option in done.stdout + done.stderr


def python_paths(python: str) -> list[Path]:
    """The folders ``python`` imports from (its prefixes and ``sys.path``), as the sandbox must
    show them: the environment itself, the standard library, editable installs' source folders.

    Asked of ``python`` itself with an empty environment and an empty working folder (the kernel
    runs with neither PYTHONPATH nor the instructor's folder).
    """
    code = (
        "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, "
        "sys.base_exec_prefix, sys.executable, *sys.path]))"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
    result = subprocess.run(
        [python, "-c", code], env=env, cwd="/", capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise SandboxError(f"cannot start {python}: {result.stderr.strip()[-500:]}")
    found: list[Path] = []
    for entry in json.loads(result.stdout):
        if not entry or entry in (".", "/"):
            continue
        path = Path(entry)
        if path.is_file():  # the executable: its folder, and the folder its link points into
            found += [path.parent, path.resolve().parent]
        elif path.exists():
            found += [path, path.resolve()]
    return outermost(found)


def outermost(paths: Iterable[Path]) -> list[Path]:
    """``paths`` without duplicates and without those inside another one, in a stable order."""
    unique = sorted({Path(os.path.abspath(p)) for p in paths}, key=lambda p: (len(p.parts), str(p)))
    kept: list[Path] = []
    for path in unique:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def exposed(secrets: Iterable[Path], visible: Iterable[Path]) -> list[tuple[Path, Path]]:
    """Each (secret, visible folder) pair where the secret lies in that folder: what a sandbox
    showing ``visible`` would reveal of ``secrets`` (hidden checks, grades, other submissions)."""
    pairs = []
    visible = [Path(os.path.realpath(v)) for v in visible]
    for secret in secrets:
        real = Path(os.path.realpath(secret))
        for folder in visible:
            if real == folder or folder in real.parents:
                pairs.append((Path(secret), folder))
    return pairs


def sandbox_user() -> tuple[int, int] | None:
    """(uid, gid) the sandbox runs as when the grader is root: ``nobody``'s; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


@dataclass
class Sandbox:
    """A way to run commands in bubblewrap that see ``visible`` read-only, under ``limits``.

    ``visible``: folders besides the system's (:data:`SYSTEM`), usually :func:`python_paths` of the
    Pythons the command runs. ``isolate=False`` runs commands without bubblewrap (the grader's
    ``--no-sandbox``): same limits, watchdog and clean environment, none of the isolation.
    """

    visible: list[Path]
    limits: Limits = field(default_factory=Limits)
    isolate: bool = True

    def __post_init__(self) -> None:
        self.visible = outermost(self.visible)
        self.cancelled = threading.Event()  # set: every run in progress is killed at once
        self.user = sandbox_user() if self.isolate else None
        if self.isolate and bwrap() is None:
            raise SandboxError(
                "bubblewrap (bwrap) is not installed: `make grader` or `apt-get install bubblewrap`"
            )

    # ---- the command line ----------------------------------------------------------------------
    def command(
        self,
        argv: Sequence[str],
        writable: dict[str, Path],
        cwd: str,
        env: dict[str, str],
        staged: dict[Path, Path] | None = None,
    ) -> list[str]:
        """The command line of bwrap that runs the limiter (:func:`limit`) then ``argv`` (without
        bwrap when not isolating). ``staged`` maps a visible folder to where :func:`launcher` makes
        it reachable for the sandbox user."""
        limited = [sys.executable, "-I", "-m", "signbook.sandbox", *self._limit_args(), "--"]
        limited += list(argv)
        if not self.isolate:
            return limited
        staged = staged or {}
        path = bwrap()
        if path is None:  # __post_init__ found it: it was uninstalled since
            raise SandboxError("bubblewrap (bwrap) is not installed any more")
        args = [path, "--unshare-all", "--unshare-user"]
        if _supports("--disable-userns"):  # bubblewrap 0.8 and later
            args.append("--disable-userns")
        args += ["--die-with-parent", "--new-session", "--clearenv"]
        for name, value in sorted(env.items()):
            args += ["--setenv", name, value]
        args += _system_binds()
        args += ["--proc", "/proc", "--dev", "/dev"]
        mounts = [
            (folder, ["--ro-bind", str(staged.get(folder, folder)), str(folder)])
            for folder in self.visible
            if not any(folder == Path(s) or Path(s) in folder.parents for s in SYSTEM)
        ]
        mounts += [
            (Path(inside), ["--bind", str(staged.get(Path(outside), outside)), inside])
            for inside, outside in writable.items()
        ]
        # outer folders first: a Python environment under /tmp stays visible inside the private
        # /tmp the grader mounts (mounted after it, not hidden by it); /dev/shm after /dev
        for _, mount in sorted(mounts, key=lambda m: len(m[0].parts)):
            args += mount
        args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", cwd, "--"]
        return args + limited

    def _limit_args(self) -> list[str]:
        lim = self.limits
        args = ["--memory", str(lim.memory), "--cpu-seconds", str(lim.cpu_seconds)]
        args += ["--file-size", str(lim.file_size), "--open-files", str(lim.open_files)]
        if self.isolate:  # outside a user namespace RLIMIT_NPROC counts all of the user's processes
            args += ["--processes", str(lim.processes)]
        return args

    # ---- running ---------------------------------------------------------------------------
    def prepare(self, folder: Path) -> None:
        """Give ``folder`` (and what is in it) to the sandbox user, who must write there."""
        if self.user is None:
            return
        uid, gid = self.user
        for root, dirs, files in os.walk(folder):
            os.chown(root, uid, gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)

    def run(
        self,
        argv: Sequence[str],
        *,
        writable: dict[str, Path],
        cwd: str,
        env: dict[str, str],
        timeout: float,
    ) -> Outcome:
        """Run ``argv`` in the sandbox and wait for its end, at most ``timeout`` seconds.

        ``writable`` maps each folder the command may write (its path inside) to a folder of the
        grader's that holds it; ``cwd`` is the working folder (inside). ``env`` is the command's
        whole environment. Whatever happens, no process of the run is left when this returns.
        """

        for outside in writable.values():
            self.prepare(Path(outside))
        if not self.isolate:  # without bwrap the command sees the folders under their own names
            argv = [_outside(a, writable, self.visible) for a in argv]
            env = {k: _outside(v, writable, self.visible) for k, v in env.items()}
            cwd = _outside(cwd, writable, self.visible)
        cgroup = MemoryCgroup.create(self.limits.memory) if self.isolate else None
        with tempfile.TemporaryDirectory(prefix="signbook-stage-") as stage, _Stderr() as err:
            staged = {}
            if self.user is not None:
                os.chmod(stage, 0o755)
                folders = [*self.visible, *map(Path, writable.values())]
                unreachable = [v for v in folders if not reachable(v, *self.user)]
                staged = {v: Path(stage) / str(k) for k, v in enumerate(unreachable)}
            command = self.command(argv, writable, cwd, env, staged)
            command = launcher(command, self.user, staged, cgroup)
            start = time.monotonic()
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err.file,
                env=env if not self.isolate else _launch_env(),
                cwd=cwd if not self.isolate else "/",
                start_new_session=True,
            )
            outcome = _watch(
                child,
                self.limits,
                list(writable.values()),
                start + timeout,
                self.cancelled,
                cgroup.oom_killed if cgroup is not None else bool,
            )
            outcome.seconds = time.monotonic() - start
            outcome.stderr = err.tail()
        if cgroup is not None:
            outcome.oom_killed = cgroup.oom_killed()
            outcome.memory_peak = max(outcome.memory_peak, cgroup.peak())
            cgroup.remove()
        return outcome

    def probe(self, python: str) -> None:
        """Start ``python`` in a sandbox like the grader's, or raise :class:`SandboxError` saying why
        (bubblewrap missing, user namespaces off, an environment the sandbox user cannot read)."""

        with tempfile.TemporaryDirectory(prefix="signbook-probe-") as folder:
            outcome = self.run(
                [python, "-I", "-c", "import os; open('ok', 'w').write(str(os.getpid()))"],
                writable={"/home/probe": Path(folder)},
                cwd="/home/probe",
                env={"PATH": "/usr/bin:/bin", "HOME": "/home/probe", "LANG": "C.UTF-8"},
                timeout=60,
            )
            if outcome.returncode != 0 or not (Path(folder) / "ok").exists():
                hint = f"; {HINT}" if self.isolate else ""
                raise SandboxError(
                    f"the sandbox does not start (exit {outcome.returncode}): "
                    f"{outcome.stderr.strip()[-600:] or 'no message'}{hint}"
                )


LAUNCH = """
for f in $SIGNBOOK_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done
while [ "$1" != "--" ]; do
    mkdir -p "$2" && mount --bind "$1" "$2" || exit 125
    shift 2
done
shift
exec "$@"
"""
"""The shell steps before bwrap: join the cgroup, then bind each folder the sandbox user cannot
reach at a staging place it can (in a mount namespace of this launch only)."""


def launcher(
    command: list[str],
    user: tuple[int, int] | None,
    staged: dict[Path, Path],
    cgroup: MemoryCgroup | None,
) -> list[str]:
    """``command`` (bwrap's) preceded by what must happen with the grader's privileges: joining
    ``cgroup``; as root, binding each folder of ``staged`` at its staging place, in a private
    mount namespace (``unshare --mount``), then becoming ``user`` (``setpriv``).

    Why staging: bwrap resolves its bind sources as the user it runs as, and a root grader's
    Python is often under ``/root`` (mode 700), which ``nobody`` cannot enter.
    """
    if user is None and cgroup is None:
        return command
    pairs = [str(p) for source, place in staged.items() for p in (source, place)]
    if user is not None:
        uid, gid = user
        command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", *command]
    procs = str(cgroup.procs) if cgroup is not None else ""
    script = ["/bin/sh", "-c", f"SIGNBOOK_CGROUP_PROCS='{procs}'\n{LAUNCH}", "sh", *pairs, "--"]
    if staged:
        script = ["unshare", "--mount", "--propagation", "private", "--", *script]
    return script + command


def reachable(path: Path, uid: int, gid: int) -> bool:
    """True when the user ``uid`` (group ``gid``) may enter ``path`` and every folder above it."""
    path = Path(os.path.abspath(path))
    for folder in [path, *path.parents]:
        try:
            st = os.stat(folder)
        except OSError:
            return False
        if st.st_uid == uid:
            bit = 0o100
        elif st.st_gid == gid:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return False
    return True


def _system_binds() -> list[str]:
    """bwrap's arguments for the system: :data:`SYSTEM` read-only, and each of :data:`MERGED` as
    the link it is (merged /usr) or read-only."""
    args = []
    for folder in SYSTEM:
        args += ["--ro-bind", folder, folder]
    for top in MERGED:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _outside(text: str, writable: dict[str, Path], keep: Sequence[Path] = ()) -> str:
    """``text`` with a leading inside path of ``writable`` replaced by the folder that holds it.

    A path inside a folder of ``keep`` (the Python environment, the same inside and outside) is
    left alone, even where it starts like a writable one (a venv under ``/tmp``)."""
    if any(text == str(k) or text.startswith(f"{k}/") for k in keep):
        return text
    for inside, outside in writable.items():
        if text == inside or text.startswith(inside + "/"):
            return str(outside) + text[len(inside) :]
    return text


def _launch_env() -> dict[str, str]:
    """The environment of bwrap itself (the sandbox's own is set with ``--setenv``)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


class _Stderr:
    """A temporary file for the sandbox's stderr, of which :meth:`tail` reads the end."""

    def __enter__(self) -> _Stderr:

        self.file = tempfile.TemporaryFile()
        return self

    def tail(self, size: int = 4096) -> str:
        self.file.seek(0, os.SEEK_END)
        end = self.file.tell()
        self.file.seek(max(0, end - size))
        return self.file.read().decode(errors="replace")

    def __exit__(self, *exc) -> None:
        self.file.close()


def _watch(
    child: subprocess.Popen,
    limits: Limits,
    folders: list[Path],
    deadline: float,
    cancelled: threading.Event,
    oom: Callable[[], bool],
) -> Outcome:
    """Wait for ``child``, killing its whole tree past the deadline, the memory (the sum over
    its processes, or ``oom()``: the cgroup's killer fired) or the disk, or when ``cancelled`` is
    set (the grader was interrupted)."""
    peak, stopped, next_disk = 0, None, 0.0
    seen: set[int] = set()
    while child.poll() is None:
        now = time.monotonic()
        tree = descendants(child.pid)
        seen.update(tree)
        use = usage(tree)
        peak = max(peak, use.memory)
        if cancelled.is_set():
            stopped = "cancelled"
        elif now >= deadline:
            stopped = "time"
        elif use.memory > limits.memory or oom():
            stopped = "memory"
        elif use.threads >= limits.processes - 2:  # the next fork fails: a bomb, stop it now
            stopped = "processes"
        elif use.cpu > limits.cpu_seconds:
            stopped = "cpu"
        elif now >= next_disk:
            next_disk = now + DISK_POLL
            if disk_usage(folders, limits.files + 1) > (limits.disk, limits.files):
                stopped = "disk"
        if stopped:
            break
        time.sleep(POLL)
    _kill(child, seen)
    return Outcome(child.returncode, 0.0, stopped=stopped, memory_peak=peak)


def _kill(child: subprocess.Popen, seen: set[int]) -> None:
    """Kill ``child``'s process group and every descendant seen; wait for ``child``."""
    for target in (lambda: os.killpg(child.pid, signal.SIGKILL), child.kill):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass
    for pid in descendants(child.pid) | seen:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    child.wait()


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (its children, theirs, ...), from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces; the parent pid follows it
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for kid in children.get(todo.pop(), []):
            if kid not in found:
                found.add(kid)
                todo.append(kid)
    return found


@dataclass
class Usage:
    """What a set of processes holds: ``memory`` (bytes of private memory in RAM, ``RssAnon``:
    what an allocation grows), ``threads`` (what ``RLIMIT_NPROC`` counts) and ``cpu`` (seconds,
    their own and their reaped children's)."""

    memory: int = 0
    threads: int = 0
    cpu: float = 0.0


TICK = os.sysconf("SC_CLK_TCK")


def usage(pids: Iterable[int]) -> Usage:
    """The :class:`Usage` of ``pids``, from ``/proc`` (a process gone meanwhile counts 0)."""
    total = Usage()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{pid}/status", "rb") as f:
                status = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        total.cpu += sum(int(x) for x in fields[11:15]) / TICK  # utime stime cutime cstime
        for line in status.splitlines():
            if line.startswith(b"RssAnon:"):
                total.memory += int(line.split()[1]) * 1024
            elif line.startswith(b"Threads:"):
                total.threads += int(line.split()[1])
    return total


def disk_usage(folders: Iterable[Path], most: int) -> tuple[int, int]:
    """(bytes on disk, entries) of everything in ``folders``; counting stops after ``most``
    entries (a submission that makes millions of files is over the limit either way)."""
    size = count = 0
    todo = [str(f) for f in folders]
    while todo and count < most:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            count += 1
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            size += st.st_blocks * 512
            if entry.is_dir(follow_symlinks=False):
                todo.append(entry.path)
    return size, count


# ---- a memory cgroup, where the grader may make one ---------------------------------------------
@dataclass
class MemoryCgroup:
    """A cgroup capped at a memory limit, which the sandbox's first process joins.

    cgroup v2 (``memory.max``, ``memory.events``) when the grader's own cgroup delegates the memory
    controller to its children; cgroup v1 (``memory.limit_in_bytes``) when the grader may write
    under its memory cgroup (root). :meth:`create` returns None anywhere else: the rlimits and the
    watchdog still hold.
    """

    path: Path
    version: int

    @property
    def procs(self) -> Path:
        """The file a process writes its pid to, to join."""
        return self.path / "cgroup.procs"

    @classmethod
    def create(cls, limit: int) -> MemoryCgroup | None:
        """A new cgroup capped at ``limit`` bytes, or None where the grader may not make one."""
        for version, parent in _cgroup_parents():
            path = parent / f"signbook-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
            except OSError:
                continue
            group = cls(path, version)
            try:
                group._cap(limit)
                return group
            except OSError:
                group.remove()
        return None

    def _cap(self, limit: int) -> None:
        if self.version == 2:
            files = {"memory.max": limit, "memory.swap.max": 0}
        else:
            files = {"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes": limit}
        for name, value in files.items():
            if name in ("memory.max", "memory.limit_in_bytes") or (self.path / name).exists():
                (self.path / name).write_text(str(value))

    def oom_killed(self) -> bool:
        """True when the kernel killed a process of this cgroup for memory."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def peak(self) -> int:
        """The most memory the cgroup held (bytes; 0 where the kernel does not say)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.path / name).read_text())
        except (OSError, ValueError):
            return 0

    def remove(self) -> None:
        """Remove the cgroup once its processes are gone (they are: the sandbox was killed)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


def _cgroup_parents() -> list[tuple[int, Path]]:
    """Where this process may create a memory cgroup: (version, parent folder), best first."""
    found: list[tuple[int, Path]] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
                parent = root / path.lstrip("/")
                control = parent / "cgroup.subtree_control"
                if control.exists() and "memory" in control.read_text().split():
                    found.append((2, parent))
        elif "memory" in controllers.split(","):
            parent = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if (parent / "memory.limit_in_bytes").exists() and os.access(parent, os.W_OK):
                found.append((1, parent))
    return found


# ---- inside the sandbox ----------------------------------------------------------------------
def limit(
    *,
    memory: int,
    cpu_seconds: int,
    file_size: int,
    open_files: int,
    processes: int | None = None,
) -> None:
    """Set this process's resource limits (soft = hard, so nothing it starts can raise them).

    Called first thing inside the sandbox, where ``RLIMIT_NPROC`` counts the sandbox's own user
    namespace: a fork bomb stops at ``processes`` without touching anyone else's.
    """
    pairs = [
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_FSIZE, file_size),
        (resource.RLIMIT_NOFILE, open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if processes is not None:
        pairs.append((resource.RLIMIT_NPROC, processes))
    for which, value in pairs:
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))


def main(argv: list[str] | None = None) -> int:
    """``python -m signbook.sandbox --memory B ... -- COMMAND...``: set the limits, then become
    COMMAND (the first program :class:`Sandbox` runs inside bwrap)."""
    parser = argparse.ArgumentParser(prog="python -m signbook.sandbox")
    for name in ("memory", "cpu-seconds", "file-size", "open-files", "processes"):
        parser.add_argument(f"--{name}", type=int, required=name != "processes")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    limit(
        memory=args.memory,
        cpu_seconds=args.cpu_seconds,
        file_size=args.file_size,
        open_files=args.open_files,
        processes=args.processes,
    )
    os.execvp(command[0], command)
    return 127  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())

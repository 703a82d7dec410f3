"""signbook.execute: the waits for kernel messages are sliced, and the kernel is shut down after a run."""

import asyncio
import datetime
import os
import queue
import sys

import nbformat
import pytest

from signbook import execute


class Channel:
    """A stand-in for a kernel channel: ``get_msg`` answers Empty ``empties`` times, then a message
    (or Empty for ever when ``empties`` is None), and records every timeout it was asked to wait."""

    def __init__(self, empties, msg=None):
        self.empties, self.msg, self.timeouts = empties, msg, []

    async def get_msg(self, timeout=None):
        self.timeouts.append(timeout)
        if self.empties is None or len(self.timeouts) <= self.empties:
            raise queue.Empty
        return self.msg


def test_a_wait_without_timeout_is_made_of_slices_until_the_message_comes():
    channel = Channel(empties=3, msg={"msg_type": "execute_reply"})
    got = asyncio.run(execute.in_slices(channel.get_msg)(timeout=None))
    assert got == {"msg_type": "execute_reply"}
    assert channel.timeouts == [execute.POLL_SLICE] * 4


def test_a_long_timeout_is_never_waited_in_one_poll_and_still_ends_in_empty(monkeypatch):
    monkeypatch.setattr(execute, "POLL_SLICE", 0.01)
    channel = Channel(empties=None)
    with pytest.raises(queue.Empty):
        asyncio.run(execute.in_slices(channel.get_msg)(timeout=0.05))
    assert len(channel.timeouts) >= 2
    assert all(0 <= t <= 0.01 for t in channel.timeouts)


def test_a_message_that_waited_in_the_socket_is_logged(caplog):
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)
    fresh = datetime.datetime.now(datetime.timezone.utc)
    for date, expected in ((old, 1), (fresh, 0)):
        caplog.clear()
        msg = {"msg_type": "execute_reply", "header": {"date": date}}
        asyncio.run(execute.in_slices(Channel(empties=0, msg=msg).get_msg)(timeout=None))
        late = [r for r in caplog.records if "after the kernel sent it" in r.getMessage()]
        assert len(late) == expected


def test_run_alone_shuts_its_kernel_down(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.getpid())")]
    path = tmp_path / "pid.ipynb"
    nbformat.write(nb, path)
    result = execute.run_alone(path, python=sys.executable, timeout=60, keep=tmp_path / "ran")
    assert result.ok, result.errors
    ran = nbformat.read(tmp_path / "ran" / "pid.ipynb", as_version=4)
    pid = int(ran.cells[0].outputs[0]["text"])
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_notebook_client_waits_in_slices_on_shell_and_iopub():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 + 1")]
    seen = {}

    def look(cell, cell_index):
        kc = client.kc
        seen["shell"] = kc.shell_channel.get_msg.__name__
        seen["iopub"] = kc.iopub_channel.get_msg.__name__

    client = execute.notebook_client(nb, timeout=60, kernel_name="python3", on_cell_start=look)
    client.execute()
    assert seen == {"shell": "get_msg_in_slices", "iopub": "get_msg_in_slices"}
    assert nb.cells[0].outputs[0]["data"]["text/plain"] == "2"

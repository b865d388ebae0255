"""One run per process: fork each seed's run from a pristine parent, time it, sweep after it.

    run_child(body, limits=ChildLimits(...), sweep=..., prepare=...) -> ChildResult

Used by the sandbox runner (`runner.py`, inside the container) and by `LocalRunner` (the
dry-run), so a submission behaves the same in both: nothing one run leaves in memory,
scratch or the output folder reaches the next.

The parent never imports the submission. For each run it forks a child that first does
trusted set-up only (output to a capture pipe, inherited descriptors closed, signal
handlers reset, then `prepare()`: the device initialised, the seed's model and loaders
built), then writes one byte on its control pipe and waits for the parent's answer on
another: the parent starts its clock, then answers, so no submission code runs before the
clock starts (however late the parent is scheduled) and none of the harness's set-up after
it. The child then calls `body(prepared)`, which loads the submission fresh (its import is
its own work, and timed) and runs one seed, and writes its result frame on the control
pipe: one line of JSON (its claims: ok, error category, message, traceback), then the
weights as safetensors bytes, the whole frame behind an 8-byte length. The parent's clock
stops when the frame is complete (the run's result is then fixed: the parent kills the
child at once), or when it sees the child exit without one, or kills it at its time limit.
Only then does it call `sweep` (kill what is left, empty every writable place). A run's
time is thus hand-over to result, on the parent's clock, which no child can reach: the
fork, the set-up, the child's exit (tearing down a torch process's memory) and the sweep,
the same for every run whatever the submission, are not charged to it (under gVisor,
tenths of a second).

Why the end of the frame, and not a mark the child sends when `unlearning()` returns: after
the submission's import nothing in the child can be trusted, so such a mark could be sent
early and the work done after it (in a patched `state_dict`, say). A frame sent early is
harmless: it is the result, and nothing the child does after it counts, since it is killed.
The weights' serialisation and sending (milliseconds) are charged.

What a child sent never lands in the parent's heap, where a later child (a copy of the
parent) could read it: the result goes from the pipe into a memfd by `splice`, the output
through one fixed buffer into a fixed ring, both zeroed after each run, then into a memfd.
The memfds are closed in every child (`close_fds`).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import json
import os
import select
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "ChildLimits",
    "ChildResult",
    "Claim",
    "frozen_heap",
    "make_non_dumpable",
    "read_result",
    "read_output",
    "run_child",
]

READY = b"R"
GO = b"G"
HEADER_BYTES = 8  # the frame's length (big-endian), before the claim line and the weights
MAX_CLAIM_BYTES = 256 * 1024  # the JSON line before the weights
CHUNK = 1 << 16
POLL_MS = 5  # without a pidfd: how often the parent looks for the child's exit

Claim = dict[str, object]
"""What the child says of its run: {"ok", "category", "message", "log_excerpt"}; forgeable."""

Prepared = TypeVar("Prepared")


@dataclass(frozen=True)
class ChildLimits:
    result_bytes: int  # the weights' cap; the claim line gets MAX_CLAIM_BYTES on top
    capture_bytes: int = 64 * 1024  # the tail of the run's stdout and stderr that is kept
    time_limit_s: float | None = None  # from ready to exit; None: no limit
    capture: bool = True  # False: the child's output goes where the parent's goes
    close_fds: bool = True  # close every inherited descriptor but the child's own


@dataclass
class ChildResult:
    """A finished run, as the parent saw it. `result` and `output` are memfds (or -1)."""

    seconds: float  # ready byte -> complete result (else exit, or the kill at the limit),
    # on the parent's clock; 0.0 if never ready
    exit_code: int  # the child's exit status; -N: killed by signal N
    timed_out: bool
    oversized: bool  # the child sent more than the result cap
    result: int  # memfd: claim line + weights bytes as sent
    result_size: int
    output: int  # memfd: the captured output's tail (empty when not captured)

    def close(self) -> None:
        for fd in (self.result, self.output):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.result = self.output = -1


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Move every object the parent holds out of the garbage collector's reach while runs
    are forked (`gc.freeze`): a collection in a child would otherwise touch each object's
    header and copy nearly every page of the parent (about 0.5 s per run, measured)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def make_non_dumpable() -> None:
    """PR_SET_DUMPABLE 0: processes of the same uid cannot ptrace this one or open its
    /proc/<pid>/fd, mem or environ; its children inherit the setting."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE = 4
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


class _Ring:
    """The last `size` bytes written, in one buffer allocated once (no copies on the heap)."""

    def __init__(self, size: int) -> None:
        self.buffer = bytearray(max(size, 1))
        self.position = 0
        self.wrapped = False

    def write(self, data: memoryview) -> None:
        size = len(self.buffer)
        if len(data) >= size:
            self.buffer[:] = data[-size:]
            self.position, self.wrapped = 0, True
            return
        first = min(len(data), size - self.position)
        self.buffer[self.position : self.position + first] = data[:first]
        rest = len(data) - first
        if rest:
            self.buffer[:rest] = data[first:]
            self.wrapped = True
        self.position = (self.position + len(data)) % size
        if self.position == 0 and len(data):
            self.wrapped = True

    def dump(self, fd: int) -> None:
        view = memoryview(self.buffer)
        if self.wrapped:
            _write_all(fd, view[self.position :])
        _write_all(fd, view[: self.position])

    def clear(self) -> None:
        _zero(self.buffer)
        self.position, self.wrapped = 0, False


def _zero(buffer: bytearray) -> None:
    ctypes.memset((ctypes.c_char * len(buffer)).from_buffer(buffer), 0, len(buffer))


def _write_all(fd: int, data: memoryview) -> None:
    while len(data):
        data = data[os.write(fd, data) :]


def run_child(
    body: Callable[[Prepared], tuple[Claim, bytes | None]],
    *,
    limits: ChildLimits,
    sweep: Callable[[int], None],
    prepare: Callable[[], Prepared],
) -> ChildResult:
    """Fork a child that runs `body(prepare())` once; wait, sweep, and return what it left.

    `prepare` runs in the child before the ready byte (trusted set-up: the device, the
    run's model and loaders), `body` after it (the submission's import and call);
    `sweep(pid)` runs in the parent after the child is gone and its clock stopped.
    """
    ctl_r, ctl_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC) if limits.capture else (-1, -1)
    result = os.memfd_create("run-result", os.MFD_CLOEXEC)
    output = os.memfd_create("run-output", os.MFD_CLOEXEC)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        _child(body, ctl_w, go_r, out_w, limits, prepare)
    forked = time.monotonic()
    os.close(ctl_w)
    os.close(go_r)
    if out_w >= 0:
        os.close(out_w)
    try:
        return _watch(pid, forked, ctl_r, go_w, out_r, result, output, limits, sweep)
    finally:
        os.close(ctl_r)
        os.close(go_w)
        if out_r >= 0:
            os.close(out_r)


def _child(
    body: Callable[[Any], tuple[Claim, bytes | None]],
    ctl: int,
    go: int,
    out: int,
    limits: ChildLimits,
    prepare: Callable[[], Any],
) -> None:  # pragma: no cover - runs in the forked child
    code = 70
    try:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(number, signal.SIG_DFL)
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # the local sweep kills this group
        if out >= 0:
            os.dup2(out, 1)
            os.dup2(out, 2)
            # The parent's sys.stdout may be some other object (a test's capture): rebind.
            sys.stdout = open(1, "w", buffering=1, errors="replace", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", buffering=1, errors="replace", closefd=False)  # noqa: SIM115
        # ctl to 3, go to 4, by way of numbers above both (either may be 3 or 4 now).
        ctl, go = (fcntl.fcntl(fd, fcntl.F_DUPFD, 5) for fd in (ctl, go))
        os.dup2(ctl, 3)
        os.dup2(go, 4)
        ctl, go = 3, 4
        if limits.close_fds:
            os.closerange(5, _max_fd())
        prepared = prepare()
        os.write(ctl, READY)
        if os.read(go, 1) != GO:  # the parent's clock has started when this returns
            raise RuntimeError("the parent did not hand the run over")
        os.close(go)
        claim, weights = body(prepared)
        for stream in (sys.stdout, sys.stderr):  # the parent kills us once the frame is in
            with contextlib.suppress(BaseException):
                stream.flush()
        _send(ctl, claim, weights)
        code = 0
    except BaseException as exc:  # a child must never return into the parent's code
        with contextlib.suppress(BaseException):
            _send(ctl, {"ok": False, "category": "exception", "message": repr(exc)}, None)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _send(ctl: int, claim: Claim, weights: bytes | None) -> None:
    line = json.dumps(claim).encode()[:MAX_CLAIM_BYTES].replace(b"\n", b" ") + b"\n"
    length = len(line) + (len(weights) if weights is not None else 0)
    _write_all(ctl, memoryview(length.to_bytes(HEADER_BYTES, "big") + line))
    if weights is not None:
        _write_all(ctl, memoryview(weights))


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 65536


def _watch(
    pid: int,
    forked: float,
    ctl: int,
    go: int,
    out: int,
    result: int,
    output: int,
    limits: ChildLimits,
    sweep: Callable[[int], None],
) -> ChildResult:
    """The parent's side of one run: read both pipes, enforce the time limit, sweep."""
    cap = limits.result_bytes + MAX_CLAIM_BYTES + HEADER_BYTES
    chunk = bytearray(CHUNK)
    ring = _Ring(limits.capture_bytes) if out >= 0 else None
    pidfd = _pidfd(pid)
    poller = select.poll()
    for fd in (ctl, pidfd, out):
        if fd >= 0:
            os.set_blocking(fd, False)
            poller.register(fd, select.POLLIN)
    started: float | None = None
    ended: float | None = None  # the exit seen (or the kill at the limit): the clock stops
    size, oversized, exited, timed_out = 0, False, False, False
    open_pipes = {fd for fd in (ctl, out) if fd >= 0}
    try:
        while not exited:
            timeout_ms = None if pidfd >= 0 else POLL_MS
            if started is not None and limits.time_limit_s is not None:
                left = started + limits.time_limit_s - time.monotonic()
                if left <= 0:
                    timed_out, ended = True, time.monotonic()
                    break
                timeout_ms = min(max(int(left * 1000) + 1, 1), timeout_ms or 1 << 30)
            ready = poller.poll(timeout_ms)
            if pidfd < 0 and os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                exited = True  # gone (not yet reaped: waitpid below gets its status)
            exited = exited or any(fd == pidfd for fd, _ in ready)
            if exited and ended is None:
                ended = time.monotonic()
            for fd, _ in ready:
                if fd == ctl and started is None:
                    byte = _read_some(ctl, chunk, 1)
                    if byte:  # nothing of the submission has run yet, nor will until
                        # `go`; if the child is already gone: from the fork, then
                        started = forked if exited else time.monotonic()
                        with contextlib.suppress(OSError):  # a child gone cannot read it
                            os.write(go, GO)
                    elif byte == 0:  # closed before it was ready: the set-up failed
                        poller.unregister(ctl)
                        open_pipes.discard(ctl)
                elif fd == ctl:
                    moved = _move(ctl, result, cap - size, chunk)
                    if moved == 0:  # end of file: the child closed its end
                        poller.unregister(ctl)
                        open_pipes.discard(ctl)
                    elif moved is not None and moved < 0:
                        oversized = True
                        poller.unregister(ctl)
                        open_pipes.discard(ctl)
                        os.kill(pid, signal.SIGKILL)
                    elif moved is not None:
                        size += moved
                        if ended is None and _frame_complete(result, size, chunk):
                            # The result is fixed: nothing the child does now can count.
                            ended = time.monotonic()
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(pid, signal.SIGKILL)
                elif fd == out and ring is not None:
                    count = _read_some(out, chunk, CHUNK)
                    if count == 0:
                        poller.unregister(out)
                        open_pipes.discard(out)
                    elif count is not None:
                        ring.write(memoryview(chunk)[:count])
        if not exited:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        sweep(pid)
        # Every writer is gone now: what is left in the pipes is all the run wrote.
        if ctl in open_pipes and started is not None and not oversized:
            while (moved := _move(ctl, result, cap - size, chunk)) not in (None, 0):
                if moved < 0:
                    oversized = True
                    break
                size += moved
        if ring is not None and out in open_pipes:
            while count := _read_some(out, chunk, CHUNK):
                ring.write(memoryview(chunk)[:count])
        stopped = ended if ended is not None else time.monotonic()
        seconds = stopped - started if started is not None else 0.0
        if ring is not None:
            ring.dump(output)
            ring.clear()
        _zero(chunk)
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    return ChildResult(
        seconds=seconds,
        exit_code=os.waitstatus_to_exitcode(status),
        timed_out=timed_out,
        oversized=oversized,
        result=result,
        result_size=size,
        output=output,
    )


def _frame_complete(result: int, size: int, chunk: bytearray) -> bool:
    """Whether the `size` bytes in `result` hold the whole frame its header announces. The
    header passes through the fixed buffer, zeroed after the run, not the parent's heap."""
    if size < HEADER_BYTES:
        return False
    header = memoryview(chunk)[:HEADER_BYTES]
    os.preadv(result, [header], 0)
    return size >= HEADER_BYTES + int.from_bytes(header, "big")


def _pidfd(pid: int) -> int:
    """A descriptor that polls readable when `pid` exits; -1 where the kernel has none
    (gVisor), and the parent then checks every POLL_MS instead."""
    try:
        return os.pidfd_open(pid)
    except OSError:
        return -1


def _read_some(fd: int, chunk: bytearray, limit: int) -> int | None:
    """Bytes read into `chunk` (0 at end of file, None when nothing is there yet)."""
    try:
        return os.readv(fd, [memoryview(chunk)[:limit]])
    except BlockingIOError:
        return None


def _move(pipe: int, memfd: int, room: int, chunk: bytearray) -> int | None:
    """Move what `pipe` holds into `memfd`: the count, 0 at end of file, None if nothing
    yet, -1 if it holds more than `room`."""
    try:
        moved = os.splice(pipe, memfd, max(room, 0) + 1)
    except BlockingIOError:
        return None
    except OSError:  # no splice here (an unusual kernel): through the fixed buffer
        count = _read_some(pipe, chunk, min(CHUNK, max(room, 0) + 1))
        if count is None:
            return None
        _write_all(memfd, memoryview(chunk)[:count])
        moved = count
    return -1 if moved > room else moved


def read_result(result: ChildResult) -> tuple[Claim, int, int]:
    """The child's claim, and where its weights lie in the result memfd (offset, length).

    The claim is whatever the child wrote; a frame that is not one gives a claim saying so.
    Bytes past the frame's announced length are not part of the result.
    """
    if result.result_size < HEADER_BYTES:
        return {"ok": False, "category": "", "message": "the run sent no result"}, 0, 0
    announced = int.from_bytes(os.pread(result.result, HEADER_BYTES, 0), "big")
    end = HEADER_BYTES + announced
    if end > result.result_size:
        message = "the run ended before its whole result was sent"
        return {"ok": False, "category": "", "message": message}, 0, 0
    head = os.pread(result.result, min(announced, MAX_CLAIM_BYTES + 1), HEADER_BYTES)
    line, newline, _ = head.partition(b"\n")
    if not newline:
        return {"ok": False, "category": "", "message": "the run sent no result"}, 0, 0
    try:
        claim = json.loads(line)
    except (ValueError, RecursionError):
        claim = None
    if not isinstance(claim, dict):
        claim = {
            "ok": False,
            "category": "invalid_output",
            "message": "the run's result could not be read: it is not what the runner sends",
        }
    offset = HEADER_BYTES + len(line) + 1
    return claim, offset, end - offset


def read_output(result: ChildResult) -> str:
    """The captured output's tail, as text."""
    size = os.fstat(result.output).st_size
    return os.pread(result.output, size, 0).decode("utf-8", errors="replace")

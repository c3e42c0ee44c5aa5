"""The agent's persistent Python interpreter: runs inside the jail, speaks JSON lines on its own fds.

This file is sent as `python -c` source, so it imports nothing from ale_gym (which is invisible in the
jail). Requests arrive on the original stdin, replies leave on the original stdout; user code gets
/dev/null as stdin and a capture file as stdout and stderr, so subprocess output is caught too and a
flood of output costs disk (bounded by the file size limit), not memory.
"""

import ast
import json
import os
import signal
import sys
import tempfile
import traceback


class CellTimeout(BaseException):
    """Raised inside user code when its time is up; the interpreter and its state survive."""


def _on_alarm(signum, frame):
    raise CellTimeout()


def _read_capture(fd, limit):
    size = os.lseek(fd, 0, os.SEEK_END)
    half = limit // 2
    if size <= limit:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, size).decode("utf-8", "replace"), size
    os.lseek(fd, 0, os.SEEK_SET)
    head = os.read(fd, half)
    os.lseek(fd, size - half, os.SEEK_SET)
    tail = os.read(fd, half)
    text = head.decode("utf-8", "replace") + f"\n[... {size - 2 * half} bytes of output cut ...]\n" + tail.decode("utf-8", "replace")
    return text, size


def _run_cell(code, namespace):
    """Execute like a notebook cell: the value of a trailing expression is printed."""
    tree = ast.parse(code, filename="<cell>", mode="exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, "<cell>", "exec"), namespace)
    if last is not None:
        value = eval(compile(last, "<cell>", "eval"), namespace)
        if value is not None:
            print(repr(value))


def main():
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    capture_fd, capture_path = tempfile.mkstemp(prefix="ale-cell-")
    os.unlink(capture_path)
    signal.signal(signal.SIGALRM, _on_alarm)
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    sys.stdin = open(os.devnull)
    replies.write(b'{"ready": true}\n')
    while True:
        line = requests.readline()
        if not line:
            return
        request = json.loads(line)
        os.ftruncate(capture_fd, 0)
        os.lseek(capture_fd, 0, os.SEEK_SET)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(capture_fd, 1)
        os.dup2(capture_fd, 2)
        status = "ok"
        try:
            signal.setitimer(signal.ITIMER_REAL, float(request["timeout"]))
            try:
                _run_cell(request["code"], namespace)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except CellTimeout:
            status = "timeout"
            print(f"[interrupted: the code ran past its {request['timeout']:g} s time limit]", file=sys.stderr)
        except KeyboardInterrupt:
            status = "error"
            traceback.print_exc()
        except SystemExit as exc:
            status = "error"
            print(f"SystemExit({exc.code!r}) was raised; the interpreter keeps running", file=sys.stderr)
        except BaseException:  # noqa: BLE001 - user code may raise anything; report it like a REPL
            status = "error"
            etype, value, tb = sys.exc_info()
            while tb is not None and tb.tb_frame.f_code.co_filename != "<cell>":
                tb = tb.tb_next
            traceback.print_exception(etype, value, tb)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        output, size = _read_capture(capture_fd, int(request["limit"]))
        replies.write(json.dumps({"status": status, "output": output, "bytes": size}).encode() + b"\n")


main()

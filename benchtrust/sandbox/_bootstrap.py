"""Bootstrap of the sandboxed interpreter (stdlib only; ``python -I -S -B bootstrap.py AUDIT PROGRAM``).

Runs as the unprivileged sandbox user, inside the namespaces, before the untrusted program. It

* reads a per-run nonce from fd 4 (then closes it) and reports on fd 3 as ``<nonce> <kind> <detail>``
  lines: ``ok`` (the program ran to its end), ``exc`` (an exception escaped), ``exit`` (SystemExit),
  ``blocked`` (the audit hook refused an operation);
* optionally installs a ``sys.addaudithook`` hook that ends the process on the first network,
  process-spawning, ctypes or write-outside-the-work-directory operation. This is *defence in depth*,
  not a boundary: code in the same interpreter can get around audit hooks (e.g. through
  ``_posixsubprocess`` or a memory-corruption bug); the namespaces, uid and rlimits are the boundary;
* compiles and runs the program as ``__main__`` and always leaves with ``os._exit`` (no atexit
  handlers or lingering threads of the program run afterwards).

The nonce makes a forged ``ok`` line unlikely but not impossible when the program shares the interpreter
(it could dig it out by introspection). Grading therefore uses the *split* form
(``bootstrap.py AUDIT HARNESS CANDIDATE ENTRY_POINT``, issue 15 item 3): before anything untrusted runs and
before the nonce is read, the bootstrap makes itself non-dumpable and forks.

* The child closes the result and nonce descriptors (it never sees either), installs the audit hook, runs the
  candidate program and then serves calls of ``ENTRY_POINT``: arguments arrive pickled on a pipe, the result
  (or the exception's type and message) goes back pickled on another.
* The parent reads the nonce and runs the harness (the test code) with ``__bt_candidate__``, a proxy that
  forwards each call to the child and rebuilds the answer with an unpickler that only builds plain data
  (numbers, strings, bytes, lists, tuples, dicts, sets, None): an object with a forged ``__eq__`` cannot cross.
  The verdict is the parent's: the candidate cannot reach its frames, ``sys.modules``, ``assert``, the
  result descriptor or its exit code; if the child dies (``os._exit(0)``, ``sys.exit``) the call raises.
"""

import os
import sys


def _main():
    result_fd = 3
    use_audit = sys.argv[1] == "1"
    program_path = sys.argv[2]
    workdir = os.getcwd()
    write = os.write
    _exit = os._exit
    extra = {}
    if len(sys.argv) > 4:  # split form: the candidate runs in a child that never sees fd 3/4
        extra["__bt_candidate__"] = _split(sys.argv[3], sys.argv[4], use_audit, workdir)
    nonce = os.read(4, 128).decode("ascii", "replace").strip()
    os.close(4)
    with open(program_path, encoding="utf-8") as f:
        source = f.read()

    def report(kind, detail=""):
        line = f"{nonce} {kind} {detail}".replace("\n", "\\n")
        if len(line) > 2000:
            line = line[:2000] + "..."
        try:
            write(result_fd, (line + "\n").encode("utf-8", "replace"))
        except OSError:
            pass

    def flush():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass

    if use_audit:
        _install_audit_hook(report, flush, workdir, _exit)

    ballast = bytearray(1 << 20)  # freed on MemoryError so that reporting it has room
    g = {"__name__": "__main__", "__builtins__": __builtins__, "__file__": "program.py", **extra}
    try:
        exec(compile(source, "program.py", "exec"), g)
    except SystemExit as e:
        g.clear()
        flush()
        report("exit", repr(e.code))
        _exit(1)
    except BaseException as e:
        del ballast
        name = type(e).__name__
        try:
            msg = str(e)
        except BaseException:
            msg = ""
        g.clear()
        report("exc", f"{name}: {msg}" if msg else name)
        if name != "MemoryError":
            try:
                import traceback

                traceback.print_exception(e)
            except BaseException:
                pass
        flush()
        _exit(1)
    flush()
    report("ok")
    _exit(0)


_MAX_REPLY = 64 << 20


def _send(fd, data):
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[os.write(fd, view) :]


def _recv(fd, limit):
    head = b""
    while len(head) < 8:
        chunk = os.read(fd, 8 - len(head))
        if not chunk:
            return None
        head += chunk
    n = int.from_bytes(head, "little")
    if n > limit:
        raise ValueError(f"the candidate's answer is larger than {limit} bytes")
    parts, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _split(candidate_path, entry_point, use_audit, workdir):
    """Fork the candidate's process; return the harness's proxy for ``entry_point``."""
    try:  # not dumpable: a process of the same uid cannot ptrace us or open /proc/<pid>/mem or fd/
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except Exception:  # defence in depth; fd 3/4 are closed in the child either way
        pass
    call_r, call_w = os.pipe()
    reply_r, reply_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(3)
            os.close(4)
            os.close(call_w)
            os.close(reply_r)
        except OSError:
            os._exit(70)
        _serve(candidate_path, entry_point, call_r, reply_w, use_audit, workdir)
        os._exit(0)
    os.close(call_r)
    os.close(reply_w)
    return _proxy(pid, entry_point, call_w, reply_r)


def _serve(candidate_path, entry_point, call_r, reply_w, use_audit, workdir):
    """The candidate's process: run the candidate program, then answer calls until the harness hangs up."""
    import pickle

    def to_stderr(kind, detail=""):
        try:
            os.write(2, f"candidate {kind}: {detail}\n".encode("utf-8", "replace"))
        except OSError:
            pass

    if use_audit:
        _install_audit_hook(to_stderr, lambda: None, workdir, os._exit)
    dumps, loads, recv, send = pickle.dumps, pickle.loads, _recv, _send
    g = {"__name__": "__main__", "__builtins__": __builtins__, "__file__": "candidate.py"}  # type: dict
    load_error = None
    try:
        with open(candidate_path, encoding="utf-8") as f:
            exec(compile(f.read(), "candidate.py", "exec"), g)
    except BaseException as e:  # reported to the harness on its first call
        load_error = (type(e).__name__, str(e)[:500])
    fn = g.get(entry_point)
    while True:
        msg = recv(call_r, _MAX_REPLY)
        if msg is None:
            os._exit(0)
        if load_error is not None:
            reply = ("exc",) + load_error  # type: tuple
        elif fn is None:
            reply = ("exc", "NameError", f"name {entry_point!r} is not defined")
        else:
            try:
                args, kwargs = loads(msg)
                reply = ("ok", fn(*args, **kwargs))
            except BaseException as e:
                try:
                    one = e.args[0] if len(e.args) == 1 and isinstance(e.args[0], str) else str(e)
                    reply = ("exc", type(e).__name__, one[:500])
                except BaseException:
                    reply = ("exc", "Exception", "")
        try:
            data = dumps(reply, protocol=4)
        except BaseException as e:
            data = dumps(("exc", "TypeError", f"the candidate's answer is not plain data ({type(e).__name__})"))
        send(reply_w, data)


def _proxy(pid, entry_point, call_w, reply_r):
    import builtins
    import io
    import pickle

    plain = {"complex", "set", "frozenset", "bytearray", "range", "slice"}

    class PlainUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "builtins" and name in plain:
                return getattr(builtins, name)
            raise pickle.UnpicklingError(f"the candidate returned a {module}.{name}, not plain data")

        def persistent_load(self, pid_):
            raise pickle.UnpicklingError("persistent ids are not plain data")

    dumps = pickle.dumps

    def candidate(*args, **kwargs):
        _send(call_w, dumps((args, kwargs), protocol=4))
        data = _recv(reply_r, _MAX_REPLY)
        if data is None:
            try:
                _, status = os.waitpid(pid, 0)
                how = f"exit code {os.waitstatus_to_exitcode(status)}"
            except OSError:
                how = "unknown status"
            raise RuntimeError(f"the candidate's process ended without answering ({how})")
        reply = PlainUnpickler(io.BytesIO(data)).load()
        if type(reply) is not tuple or not reply or reply[0] not in ("ok", "exc"):
            raise RuntimeError("malformed answer from the candidate's process")
        if reply[0] == "ok" and len(reply) == 2:
            return reply[1]
        name, msg = (list(reply[1:3]) + ["", ""])[:2]
        cls = getattr(builtins, str(name), None)
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            cls = RuntimeError
            msg = f"{name}: {msg}"
        raise cls(str(msg))

    candidate.__name__ = entry_point
    candidate.__qualname__ = entry_point
    return candidate


_NET_PREFIXES = (
    "socket.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "poplib.",
    "imaplib.",
    "nntplib.",
    "telnetlib.",
    "webbrowser.",
    "syslog.",
)
_SPAWN = {
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "subprocess.Popen",
    "os.kill",
    "os.killpg",
    "pty.spawn",
    "os.startfile",
    "resource.prlimit",
    "os.pidfd_open",
}
_PATH_EVENTS = {  # event -> (positions of path arguments that must stay inside the work dir, dir_fd positions)
    "os.remove": ((0,), (1,)),
    "os.rmdir": ((0,), (1,)),
    "os.rename": ((0, 1), (2, 3)),
    "os.link": ((0, 1), (2, 3)),
    "os.symlink": ((1,), (2,)),
    "os.truncate": ((0,), ()),
    "os.chmod": ((0,), (2,)),
    "os.chown": ((0,), (3,)),
    "os.mkdir": ((0,), (2,)),
    "os.utime": ((0,), (3,)),
    "os.mkfifo": ((0,), (2,)),
    "os.mknod": ((0,), (3,)),
    "os.setxattr": ((0,), ()),
    "os.removexattr": ((0,), ()),
    "shutil.rmtree": ((0,), (1,)),
    "shutil.copyfile": ((1,), ()),
    "shutil.copytree": ((1,), ()),
    "shutil.move": ((0, 1), ()),
    "shutil.chown": ((0,), ()),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _install_audit_hook(report, flush, workdir, _exit):
    realpath = os.path.realpath
    fsdecode = os.fsdecode
    join = os.path.join
    allowed_files = {"/dev/null"}
    state = {"busy": False}

    def inside(path):
        if isinstance(path, int) or path is None:
            return True  # an already-open descriptor
        try:
            p = realpath(join(workdir, fsdecode(path)))
        except Exception:
            return False
        return p == workdir or p.startswith(workdir + "/") or p in allowed_files

    def deny(kind, event, args):
        try:
            shown = ", ".join(repr(a)[:80] for a in args)
        except Exception:
            shown = "?"
        flush()
        report("blocked", f"{kind}: {event}({shown})")
        _exit(86)

    def hook(event, args):
        if state["busy"]:
            return
        state["busy"] = True
        try:
            if event.startswith(_NET_PREFIXES):
                deny("network blocked", event, args)
            elif event in _SPAWN:
                deny("process blocked", event, args)
            elif event.startswith("ctypes."):
                deny("ctypes blocked", event, args)
            elif event == "open":
                path, mode, flags = (tuple(args) + (None, None, None))[:3]
                writing = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
                    isinstance(mode, str) and any(c in mode for c in "wax+")
                )
                if writing and not inside(path):
                    deny("filesystem blocked", event, args)
            elif event in _PATH_EVENTS:
                paths, dir_fds = _PATH_EVENTS[event]
                if any(i < len(args) and not inside(args[i]) for i in paths) or any(
                    i < len(args) and args[i] is not None for i in dir_fds
                ):
                    deny("filesystem blocked", event, args)
        finally:
            state["busy"] = False

    sys.addaudithook(hook)


_main()

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

The nonce makes a forged ``ok`` line unlikely but not impossible (the program shares the interpreter
and could dig it out by introspection): the sandbox contains programs, it does not make a deliberately
adversarial program unable to *claim* success.
"""

import os
import sys


def _main():
    result_fd = 3
    nonce = os.read(4, 128).decode("ascii", "replace").strip()
    os.close(4)
    use_audit = sys.argv[1] == "1"
    program_path = sys.argv[2]
    with open(program_path, encoding="utf-8") as f:
        source = f.read()
    workdir = os.getcwd()
    write = os.write
    _exit = os._exit

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
            except BaseException:  # noqa: BLE001
                pass

    if use_audit:
        _install_audit_hook(report, flush, workdir, _exit)

    ballast = bytearray(1 << 20)  # freed on MemoryError so that reporting it has room
    g = {"__name__": "__main__", "__builtins__": __builtins__, "__file__": "program.py"}
    try:
        exec(compile(source, "program.py", "exec"), g)
    except SystemExit as e:
        g.clear()
        flush()
        report("exit", repr(e.code))
        _exit(1)
    except BaseException as e:  # noqa: BLE001
        del ballast
        name = type(e).__name__
        try:
            msg = str(e)
        except BaseException:  # noqa: BLE001
            msg = ""
        g.clear()
        report("exc", f"{name}: {msg}" if msg else name)
        if name != "MemoryError":
            try:
                import traceback

                traceback.print_exception(e)
            except BaseException:  # noqa: BLE001
                pass
        flush()
        _exit(1)
    flush()
    report("ok")
    _exit(0)


_NET_PREFIXES = ("socket.", "urllib.", "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.",
                 "telnetlib.", "webbrowser.", "syslog.")
_SPAWN = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "subprocess.Popen",
          "os.kill", "os.killpg", "pty.spawn", "os.startfile", "resource.prlimit", "os.pidfd_open"}
_PATH_EVENTS = {  # event -> (positions of path arguments that must stay inside the work dir, dir_fd positions)
    "os.remove": ((0,), (1,)), "os.rmdir": ((0,), (1,)), "os.rename": ((0, 1), (2, 3)),
    "os.link": ((0, 1), (2, 3)), "os.symlink": ((1,), (2,)), "os.truncate": ((0,), ()),
    "os.chmod": ((0,), (2,)), "os.chown": ((0,), (3,)), "os.mkdir": ((0,), (2,)), "os.utime": ((0,), (3,)),
    "os.mkfifo": ((0,), (2,)), "os.mknod": ((0,), (3,)), "os.setxattr": ((0,), ()), "os.removexattr": ((0,), ()),
    "shutil.rmtree": ((0,), (1,)), "shutil.copyfile": ((1,), ()), "shutil.copytree": ((1,), ()),
    "shutil.move": ((0, 1), ()), "shutil.chown": ((0,), ()),
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
        except Exception:  # noqa: BLE001
            return False
        return p == workdir or p.startswith(workdir + "/") or p in allowed_files

    def deny(kind, event, args):
        try:
            shown = ", ".join(repr(a)[:80] for a in args)
        except Exception:  # noqa: BLE001
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
                    isinstance(mode, str) and any(c in mode for c in "wax+"))
                if writing and not inside(path):
                    deny("filesystem blocked", event, args)
            elif event in _PATH_EVENTS:
                paths, dir_fds = _PATH_EVENTS[event]
                if any(i < len(args) and not inside(args[i]) for i in paths) or any(
                        i < len(args) and args[i] is not None for i in dir_fds):
                    deny("filesystem blocked", event, args)
        finally:
            state["busy"] = False

    sys.addaudithook(hook)


_main()

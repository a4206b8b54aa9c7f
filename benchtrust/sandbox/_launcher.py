"""Trusted launcher of one sandboxed program (stdlib only; run as ``python -I -S -B _launcher.py CONTROL_DIR``).

It is a separate, freshly exec'd, single-threaded process, so the privileged set-up below never runs
in a forked copy of a multi-threaded parent (what ``preexec_fn`` would do). Steps:

1. ``unshare`` the namespaces (network, mount, PID, IPC, UTS; plus user in ``userns`` mode),
2. fork, announce the child's pid on the result fd (``@launcher child PID``, always the first line)
   and let the child go. The child is PID 1 of the new PID namespace. It joins the per-run cgroups
   the host created (pids.max / memory limit) and a new cgroup namespace, builds a minimal root file
   system on a tmpfs (read-only, nosuid, non-recursive binds of /usr, /lib*, the Python prefix; a
   private /dev; a fresh /proc; a size-capped tmpfs at /sandbox, the only writable place), moves
   into it with ``pivot_root`` and detaches the old root, sets the rlimits, drops to an
   unprivileged uid (no supplementary groups, empty capability bounding set, ``no_new_privs``),
   arms ``PDEATHSIG`` and execs ``python -I -S -B -X utf8 /.boot/bootstrap.py``,
3. the parent waits (it is not in the cgroups: killing them spares it, so it reaps PID 1 and no
   zombie is left to init) and mirrors the child's exit (code or signal).

Any failure before the exec is written to the result fd as ``@launcher setup-error ...`` and the
launcher exits with code 125: the program never runs half-isolated.

"""

import ctypes
import fcntl
import json
import os
import platform
import resource
import select
import signal
import stat
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

SYS_PIVOT_ROOT = {
    "x86_64": 155,
    "amd64": 155,
    "aarch64": 41,
    "arm64": 41,
    "riscv64": 41,
    "i386": 217,
    "i686": 217,
    "s390x": 217,
    "ppc64le": 203,
    "ppc64": 203,
}

SETUP_ERROR_EXIT = 125
RESULT_FD = 3
NONCE_FD = 4

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class SetupError(Exception):
    pass


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: [Errno {err}] {os.strerror(err)}")


def _b(s):
    return None if s is None else os.fsencode(s)


def mount(source, target, fstype, flags, data=None):
    _check(
        _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
        f"mount({source!r}, {target!r}, {fstype!r}, {flags:#x}, {data!r})",
    )


def unshare(flags):
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def prctl(option, arg2=0):
    _check(_libc.prctl(option, arg2, 0, 0, 0), f"prctl({option}, {arg2})")


# ---------------------------------------------------------------------------------------------
# root file system

_ST_TO_MS = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)


def _ro_bind(src, dst, extra=MS_NOSUID | MS_NODEV):
    """Non-recursive bind (submounts are *not* brought along) remounted read-only."""
    mount(src, dst, None, MS_BIND)
    locked = 0
    try:
        f = os.statvfs(dst).f_flag
        locked = sum(ms for st, ms in _ST_TO_MS if f & st)  # keep flags a user namespace may not clear
    except OSError:
        pass
    mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | extra | locked)


def _mkdirs(root, path, mode=0o755):
    cur = root
    for part in [p for p in path.split("/") if p]:
        cur = os.path.join(cur, part)
        if not os.path.lexists(cur):
            os.mkdir(cur, mode)
            os.chmod(cur, mode)
    return cur


def _dev_node(root, name, major, minor):
    path = os.path.join(root, "dev", name)
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(path, 0o666)
    except PermissionError:  # user namespace: no mknod; bind the host node instead
        with open(path, "w"):
            pass
        mount("/dev/" + name, path, None, MS_BIND)
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC)


def _bind_system(new_root, python_prefixes):
    """/usr, /bin, /lib*... and the interpreter's own prefix, bound read-only (symlinks kept as symlinks)."""
    bound = []
    for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        src = "/" + name
        dst = os.path.join(new_root, name)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isdir(src):
            os.mkdir(dst, 0o755)
            _ro_bind(src, dst)
            bound.append(os.path.realpath(src))
    # the interpreter's own prefix (e.g. ~/.pyenv/versions/X, unreadable to the sandbox uid on the host)
    for prefix in python_prefixes:
        real = os.path.realpath(prefix)
        if any(real == b or real.startswith(b + "/") for b in bound):
            continue
        dst = _mkdirs(new_root, real)
        _ro_bind(real, dst)
        bound.append(real)


def _write_etc(new_root, uid, gid):
    """A minimal /etc: the loader cache and time zone copied, passwd / group / hosts written for this run."""
    etc = _mkdirs(new_root, "etc")
    for name in ("ld.so.cache", "localtime"):
        src = os.path.join("/etc", name)
        if os.path.isfile(src):
            with open(src, "rb") as f_in, open(os.path.join(etc, name), "wb") as f_out:
                f_out.write(f_in.read())
    with open(os.path.join(etc, "passwd"), "w") as f:
        f.write(
            "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
            f"sandbox:x:{uid}:{gid}:sandbox:/sandbox:/usr/sbin/nologin\n"
        )
    with open(os.path.join(etc, "group"), "w") as f:
        f.write(f"root:x:0:\nsandbox:x:{gid}:\n")
    with open(os.path.join(etc, "hosts"), "w") as f:
        f.write("127.0.0.1 localhost\n")


def _populate_dev(new_root):
    """A private /dev: null, zero, full, random, urandom and the fd / std* links."""
    dev = _mkdirs(new_root, "dev")
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9)):
        _dev_node(new_root, name, major, minor)
    os.symlink("/proc/self/fd", os.path.join(dev, "fd"))
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", os.path.join(dev, name))


def _copy_boot(new_root, cfg):
    """The bootstrap, program and candidate copied read-only into /.boot."""
    boot = _mkdirs(new_root, ".boot")
    for key, name in (
        ("bootstrap_path", "bootstrap.py"),
        ("program_path", "program.py"),
        ("candidate_path", "candidate.py"),
    ):
        if not cfg.get(key):
            continue
        with open(cfg[key], "rb") as f_in, open(os.path.join(boot, name), "wb") as f_out:
            f_out.write(f_in.read())
        os.chmod(os.path.join(boot, name), 0o444)


def _pivot(new_root, control_dir):
    """Make ``new_root`` the root and detach the host tree (or, without pivot_root, move it out of reach)."""
    os.chdir(new_root)
    nr = SYS_PIVOT_ROOT.get(platform.machine().lower())
    if nr is not None and _libc.syscall(ctypes.c_long(nr), b".", b".") == 0:
        # pivot_root(".", "."): the old root is stacked on "/", detaching it removes the host tree
        _check(_libc.umount2(b".", ctypes.c_int(MNT_DETACH)), "umount2(old root)")
    else:  # switch_root style fallback: the old root stays underneath, unreachable without privileges
        mount(new_root, "/", None, MS_MOVE)
        os.chroot(".")
    os.chdir("/")
    if os.path.exists(control_dir) and control_dir != "/":
        raise SetupError("host tree still visible after pivot_root")


def build_root(cfg):
    """Populate a fresh tmpfs with the minimal tree the interpreter needs and pivot into it."""
    new_root = cfg["new_root"]
    uid, gid = cfg["uid"], cfg["gid"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount propagates back to the host
    os.makedirs(new_root, exist_ok=True)
    boot_size = 8 * 1024 * 1024 + 2 * sum(
        os.path.getsize(cfg[k]) for k in ("program_path", "candidate_path") if cfg.get(k)
    )
    mount("tmpfs", new_root, "tmpfs", MS_NOSUID, f"size={boot_size},mode=0755")

    _bind_system(new_root, cfg["python_prefixes"])
    _write_etc(new_root, uid, gid)
    _populate_dev(new_root)
    if cfg["pidns"]:  # a /proc of the new PID namespace: the host's processes are not in it
        proc = _mkdirs(new_root, "proc")
        mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _copy_boot(new_root, cfg)

    work = _mkdirs(new_root, "sandbox", 0o700)
    mount(
        "tmpfs",
        work,
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"size={cfg['workdir_bytes']},nr_inodes={cfg['workdir_inodes']},mode=0700,uid={uid},gid={gid}",
    )

    mount(None, new_root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID)  # the root itself: read-only
    _pivot(new_root, cfg["control_dir"])
    return "/sandbox"


# ---------------------------------------------------------------------------------------------
# privileges


def drop_privileges(cfg):
    uid, gid = cfg["uid"], cfg["gid"]
    if cfg["drop"] or cfg["mode"] == "userns":
        for cap in range(64):  # empty the capability bounding set
            if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                break
        if cfg["mode"] != "userns":  # setgroups is denied inside the user namespace (no groups mapped)
            os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # uid != 0: all capabilities are gone now, and on exec
        if os.getuid() != uid or os.geteuid() != uid:
            raise SetupError("privilege drop did not take")
        if cfg["drop"]:
            try:
                os.setuid(0)
            except PermissionError:
                pass
            else:
                raise SetupError("could regain uid 0 after dropping privileges")
    prctl(PR_SET_NO_NEW_PRIVS, 1)  # set-uid binaries and file capabilities no longer elevate
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change (a credential change clears it)


def set_rlimits(cfg):
    for name, value in cfg["rlimits"].items():
        res = getattr(resource, "RLIMIT_" + name)
        if isinstance(value, list):
            soft, hard = value
        else:
            soft = hard = value
        try:
            resource.setrlimit(res, (soft, hard))
        except ValueError:  # cannot raise above an existing hard limit (non-root): lower only
            cur_hard = resource.getrlimit(res)[1]
            cap = cur_hard if cur_hard != resource.RLIM_INFINITY else hard
            resource.setrlimit(res, (min(soft, cap), min(hard, cap)))


def write_id_maps(uid, gid):
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


# ---------------------------------------------------------------------------------------------

_report_fd = [RESULT_FD]


def report_setup_error(msg):
    try:
        os.write(_report_fd[0], ("@launcher setup-error " + msg.replace("\n", " ")[:2000] + "\n").encode())
    except OSError:
        pass


def child_main(cfg, lifeline_r):
    # wait until the launcher has announced our pid on the result channel (so that line is first)
    if os.read(lifeline_r, 1) != b"g":
        os._exit(SETUP_ERROR_EXIT)
    for path in cfg["cgroup_procs"]:  # the child joins, not the launcher: killing the cgroup spares
        with open(path, "w") as f:  # the launcher, which then reaps PID 1 (no zombie left to init)
            f.write("0")
    if cfg["cgroupns"]:
        unshare(CLONE_NEWCGROUP)
    workdir = cfg["host_workdir"]
    if cfg["mountns"]:
        workdir = build_root(cfg)
    os.chdir(workdir)
    set_rlimits(cfg)
    drop_privileges(cfg)
    # the launcher may have died between fork and PDEATHSIG: its end of the lifeline is then closed
    r, _, _ = select.select([lifeline_r], [], [], 0)
    if r:
        os._exit(SETUP_ERROR_EXIT)
    os.close(lifeline_r)
    high = [fcntl.fcntl(cfg[k], fcntl.F_DUPFD, NONCE_FD + 1) for k in ("result_fd", "nonce_fd")]  # no clobbering
    os.dup2(high[0], RESULT_FD)
    os.dup2(high[1], NONCE_FD)
    _report_fd[0] = RESULT_FD
    os.closerange(NONCE_FD + 1, 65536)
    os.set_inheritable(RESULT_FD, True)
    os.set_inheritable(NONCE_FD, True)
    boot = "/.boot" if cfg["mountns"] else cfg["control_dir"]
    argv = [
        cfg["python"],
        "-I",
        "-S",
        "-B",
        "-X",
        "utf8",
        os.path.join(boot, "bootstrap.py"),
        "1" if cfg["audit_hook"] else "0",
        os.path.join(boot, "program.py"),
    ]
    if cfg.get("candidate_path"):  # split form: harness and candidate in two processes (see _bootstrap.py)
        argv += [os.path.join(boot, "candidate.py"), cfg["entry_point"]]
    os.execve(cfg["python"], argv, cfg["env"])


def launch(control_dir):
    with open(os.path.join(control_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    _report_fd[0] = cfg["result_fd"]
    # if the host process dies, so does the launcher (and with it PID 1 and the whole namespace)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != cfg["host_pid"]:
        raise SetupError("the host process is gone")
    flags = 0
    if cfg["mode"] == "userns":
        flags |= CLONE_NEWUSER
    for key, flag in (
        ("netns", CLONE_NEWNET),
        ("mountns", CLONE_NEWNS),
        ("pidns", CLONE_NEWPID),
        ("ipcns", CLONE_NEWIPC),
        ("utsns", CLONE_NEWUTS),
    ):
        if cfg[key]:
            flags |= flag
    if flags:
        unshare(flags)
    if cfg["mode"] == "userns":
        write_id_maps(cfg["uid"], cfg["gid"])
    lifeline_r, lifeline_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(lifeline_w)
        try:
            child_main(cfg, lifeline_r)
        except BaseException as e:  # anything before exec is a set-up failure
            report_setup_error(_describe(e))
        os._exit(SETUP_ERROR_EXIT)
    os.close(lifeline_r)
    os.write(cfg["result_fd"], f"@launcher child {pid}\n".encode())
    os.write(lifeline_w, b"g")  # lifeline_w stays open until the launcher dies
    for fd in (cfg["result_fd"], cfg["nonce_fd"]):
        os.close(fd)
    for forwarded in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(forwarded, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(SETUP_ERROR_EXIT)
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if sig not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
            os.kill(os.getpid(), sig)
        except OSError:
            pass
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else SETUP_ERROR_EXIT)


def _describe(e):
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" (in {tb.tb_frame.f_code.co_name}, line {tb.tb_lineno})" if tb is not None else ""
    return f"{type(e).__name__}: {e}{where}"


def main():
    if len(sys.argv) != 2:
        print("usage: _launcher.py CONTROL_DIR", file=sys.stderr)
        os._exit(2)
    try:
        launch(sys.argv[1])
    except BaseException as e:
        report_setup_error(_describe(e))
        os._exit(SETUP_ERROR_EXIT)


if __name__ == "__main__":
    main()

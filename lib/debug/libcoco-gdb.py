# libcoco-gdb.py - gdb commands for programs that use libcoco.
#
#   info coroutines      every coroutine of every scheduler of the inferior:
#                        the same fields as coco_sched_dump()
#   coroutine ID bt      the backtrace of coroutine ID, parked or running
#
# Installed where gdb auto-loads it for libcoco.so
# ($datadir/gdb/auto-load$libdir/libcoco.so.X.Y.Z-gdb.py).  For a program
# linked statically, load it by hand:  source /path/to/that/file
# It reads the library's own structures, so the library must have been
# built with debugging information (-g, the default).
#
# SPDX-License-Identifier: MIT

import gdb

_STATES = {0: "created", 1: "running", 2: "waiting", 3: "ready",
           4: "dead", 5: "overflowed"}
_ON_NOTHING, _ON_GROUP, _ON_IO, _ON_JOIN = 0, 1, 2, 3
_WQ_SEND, _WQ_RECV, _WQ_MUTEX, _WQ_COND, _WQ_SEM, _WQ_WAITGROUP = 1, 2, 3, 4, 5, 6
_MAGIC_LIVE = 0xC5
_SHARED = 1 << 2
_WAIT_LAST = 0x80000000


def _type(name):
    return gdb.lookup_type(name)


def _ptr(value, type_name):
    return value.cast(_type(type_name).pointer())


def _addr(value):
    return int(value.cast(_type("unsigned long")))


def _schedulers():
    """(thread, sched) for every scheduler, with the thread that made it
    (the selected one when that thread has exited)."""
    found = []
    selected = gdb.selected_thread()
    by_record = {}
    try:
        for thread in gdb.selected_inferior().threads():
            thread.switch()
            try:
                record = _addr(gdb.parse_and_eval("coco__tls_thr"))
            except gdb.error:
                continue
            if record != 0:
                by_record[record] = thread
    finally:
        if selected is not None and selected.is_valid():
            selected.switch()
    try:
        s = gdb.parse_and_eval("all_scheds")
    except gdb.error:
        return found
    while _addr(s) != 0:
        found.append((by_record.get(_addr(s["maker"]), selected), s))
        s = s["all_next"]
    return found


def _coroutines(sched):
    chunk = sched["chunks"]
    while _addr(chunk) != 0:
        cos = chunk["co"]
        lo, hi = cos.type.range()
        for i in range(lo, hi + 1):
            co = cos[i]
            if int(co["magic"]) == _MAGIC_LIVE:
                yield co
        chunk = chunk["next"]


def _queue(sched, q):
    if _addr(q) == 0:
        return "nothing"
    if _addr(q) == _addr(sched["fd_freed"].address):
        return "a free descriptor"
    kind = int(q["kind"])
    obj = _addr(q) - int(q["owner_at"])
    if kind in (_WQ_SEND, _WQ_RECV):
        ch = gdb.Value(obj).cast(_type("struct coco_channel").pointer())
        text = "channel 0x%x %s (capacity %d, length %d" % (
            obj, "send" if kind == _WQ_SEND else "recv", int(ch["cap"]), int(ch["len"]))
        return text + (", closed)" if bool(ch["closed"]) else ")")
    if kind == _WQ_MUTEX:
        mu = gdb.Value(obj).cast(_type("struct coco_mutex").pointer())
        if not bool(mu["locked"]):
            return "mutex 0x%x (unlocked)" % obj
        if _addr(mu["owner"]) == 0:
            return "mutex 0x%x (held outside coroutines)" % obj
        return "mutex 0x%x (held by coroutine %d)" % (obj, int(mu["owner_id"]))
    names = {_WQ_COND: "cond", _WQ_SEM: "semaphore", _WQ_WAITGROUP: "waitgroup"}
    if kind in names:
        return "%s 0x%x" % (names[kind], obj)
    return "wait queue 0x%x" % _addr(q)


def _wait(sched, co):
    on = int(co["wait_on"])
    obj = co["wait_obj"]
    if on == _ON_GROUP:
        if _addr(obj) == 0:
            return "nothing"
        w = _ptr(obj, "struct coco__waiter")
        n = 1
        while not int(w[n - 1]["pos"]) & _WAIT_LAST:
            n += 1
        if n == 1:
            return _queue(sched, w[0]["q"])
        return "select of %d cases [%s]" % (
            n, ", ".join(_queue(sched, w[i]["q"]) for i in range(n)))
    if on == _ON_IO:
        tag = _addr(obj)
        side = {1: "read", 2: "write", 3: "read+write"}.get(tag & 3, "?")
        return "fd %d %s" % (tag >> 2, side)
    if on == _ON_JOIN:
        target = _ptr(obj, "struct coco_co")
        return "join coroutine %d" % (int(target["id"]) if _addr(target) else 0)
    return "sleep" if _addr(co["wait_timer"]) != 0 else "nothing"


def _deadline(sched, co):
    tp = co["wait_timer"]
    if _addr(tp) == 0 or _addr(sched["timers"]) == 0:
        return ""
    now = int(sched["timers"]["clock"])  # as the scheduler last read it
    deadline = int(_ptr(tp, "struct coco_tnode")["deadline"])
    since = int(_ptr(tp, "struct coco_tpark")["since"])
    text = "; waited %d ms" % max(now - since, 0)
    if deadline >= now:
        return text + ", deadline in %d ms" % (deadline - now)
    return text + ", deadline passed %d ms ago" % (now - deadline)


def _saved_sp(co):
    try:
        return _addr(co["ctx"]["sp"])
    except gdb.error:
        return 0  # the ucontext switch keeps no plain stack pointer


def _line(sched, co):
    state = int(co["state"])
    text = "coroutine %d %s" % (int(co["id"]), _STATES.get(state, "?"))
    if state == 2:
        text += ": " + _wait(sched, co) + _deadline(sched, co)
    if state in (4, 5):
        return text
    shared = int(co["flags"]) & _SHARED
    if shared:
        if state == 0:
            text += "; entry %s" % co["first_fn"]
    elif _addr(co["site"]) != 0:
        text += "; created at %s" % co["site"].cast(_type("void").pointer())
    lo = _addr(co["stack"]["lo"])
    size = int(co["stack"]["size"])
    if lo != 0:
        text += "; %s %d" % ("shared stack" if shared else "stack", size)
        sp = _saved_sp(co)
        if state != 1 and not (shared and state == 0) and lo <= sp <= lo + size:
            text += ", in use %d" % (lo + size - sp)
    return text


class InfoCoroutines(gdb.Command):
    """List every coroutine of every libcoco scheduler of the inferior.

Each line gives the coroutine's id and state, what a waiting one waits on,
where it was created and its stack, like coco_sched_dump()."""

    def __init__(self):
        super().__init__("info coroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        scheds = _schedulers()
        if not scheds:
            print("No libcoco scheduler.")
            return
        for thread, s in scheds:
            print("coco: scheduler 0x%x (thread %d): %d alive, %d ready, "
                  "%d timers armed, %d waiting for I/O" % (
                      _addr(s), thread.num, int(s["alive"]), int(s["rq_len"]),
                      int(s["timers_pending"]), int(s["io_waiting"])))
            for co in _coroutines(s):
                print(_line(s, co))


def _find(ident):
    for thread, s in _schedulers():
        for co in _coroutines(s):
            if int(co["id"]) == ident:
                return thread, s, co
    return None


class Coroutine(gdb.Command):
    """Run a command for one coroutine: coroutine ID bt [bt options]

Prints the backtrace of coroutine ID.  For a parked coroutine, the stack
pointer and pc of the selected thread are pointed at its saved context for
the time of the backtrace, then put back; the process must be live (not a
core file) for that."""

    def __init__(self):
        super().__init__("coroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        words = arg.split()
        if len(words) < 2 or words[1] not in ("bt", "backtrace"):
            raise gdb.GdbError("usage: coroutine ID bt [bt options]")
        try:
            ident = int(words[0], 0)
        except ValueError:
            raise gdb.GdbError("coroutine: %s is not an id" % words[0])
        found = _find(ident)
        if found is None:
            raise gdb.GdbError("coroutine: no coroutine %d" % ident)
        thread, sched, co = found
        bt = "bt " + " ".join(words[2:])
        state = int(co["state"])
        if state == 1:
            print("coroutine %d is running on thread %d; its backtrace is "
                  "that thread's:" % (ident, thread.num))
            thread.switch()
            gdb.execute(bt)
            return
        if state == 0:
            print("coroutine %d has not run yet: it has no frames." % ident)
            return
        if state in (4, 5):
            print("coroutine %d has finished: it has no frames." % ident)
            return
        if int(co["flags"]) & _SHARED and _addr(co["save"]) != 0:
            print("coroutine %d runs on a shared stack and its frames are "
                  "copied out while another coroutine uses that stack; they "
                  "can only be unwound at the addresses they were saved from, "
                  "which now hold the other coroutine's frames, so there is "
                  "no backtrace until it runs again." % ident)
            return
        sp = _saved_sp(co)
        if sp == 0:
            raise gdb.GdbError("coroutine: this build's context switch "
                               "(ucontext) keeps no stack pointer to unwind from")
        self._unwind_from(thread, sp, bt)

    @staticmethod
    def _unwind_from(thread, sp, bt):
        selected = gdb.selected_thread()
        thread.switch()
        gdb.newest_frame().select()
        old_sp = int(gdb.parse_and_eval("$sp").cast(_type("unsigned long")))
        old_pc = int(gdb.parse_and_eval("$pc").cast(_type("unsigned long")))
        try:
            gdb.execute("set $sp = 0x%x" % sp, to_string=True)
            # The switch's CFI at coco__ctx_resume describes the frame a
            # resume pops: from there gdb unwinds into the coroutine.
            gdb.execute("set $pc = (void *)&coco__ctx_resume", to_string=True)
            gdb.execute(bt)
        finally:
            gdb.execute("set $pc = 0x%x" % old_pc, to_string=True)
            gdb.execute("set $sp = 0x%x" % old_sp, to_string=True)
            if selected is not None and selected.is_valid():
                selected.switch()


InfoCoroutines()
Coroutine()

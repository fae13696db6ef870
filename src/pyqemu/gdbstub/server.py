"""gdb's commands against a stopped target: registers, memory, breakpoints, threads and
the target description; :meth:`GdbServer.serve` answers until gdb resumes the target."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pyqemu.gdbstub.rsp import INTERRUPT, Disconnected, RspConnection

# Linux signal numbers -> gdb's (include/gdb/signals.def); the rest are equal.
_TO_GDB = {7: 10, 10: 30, 12: 31, 16: 0, 17: 20, 18: 19, 19: 17, 20: 18, 23: 16, 29: 23, 30: 32, 31: 12}
_FROM_GDB = {v: k for k, v in _TO_GDB.items() if v}
SIGINT, SIGTRAP = 2, 5
PID = 1  # the process id in thread ids (what QEMU's user mode reports)


def to_gdb_signal(sig: int) -> int:
    return _TO_GDB.get(sig, sig)


def from_gdb_signal(sig: int) -> int:
    return _FROM_GDB.get(sig, sig)


class GdbTarget(Protocol):
    """What a stopped guest offers gdb (registers use gdb's numbering of target.xml)."""

    def target_xml(self) -> str: ...
    def read_registers(self) -> bytes: ...
    def read_register(self, n: int) -> bytes | None: ...
    def write_register(self, n: int, data: bytes) -> bool: ...
    def read_memory(self, addr: int, length: int) -> bytes | None: ...
    def write_memory(self, addr: int, data: bytes) -> bool: ...
    def insert_breakpoint(self, addr: int) -> None: ...
    def remove_breakpoint(self, addr: int) -> None: ...
    def thread_ids(self) -> list[int]: ...
    def offsets(self) -> str: ...
    def auxv(self) -> bytes: ...


@dataclass
class Resume:
    """How gdb let the target go: ``c`` continue, ``s`` step one instruction, ``k`` kill,
    ``D`` detach; ``signal`` (Linux numbering) is delivered on resuming, 0 for none."""

    action: str
    signal: int = 0


class GdbServer:
    """The command loop of one connection to ``target``."""

    def __init__(self, conn: RspConnection, target: GdbTarget) -> None:
        self.conn = conn
        self.target = target
        self.tid = 1  # the thread gdb's stop replies name
        self.multiprocess = False  # thread ids as p<pid>.<tid> (gdb offered it in qSupported)
        self.stopped = (SIGTRAP, 1)  # the last stop's signal and thread

    def thread_id(self, tid: int) -> str:
        return f"p{PID:02x}.{tid:x}" if self.multiprocess else f"{tid:x}"

    @staticmethod
    def parse_thread(text: str) -> int:
        """A thread id as gdb writes it (``p<pid>.<tid>``, ``<tid>``, -1 all, 0 any) -> tid."""
        if text.startswith("p"):
            text = text.partition(".")[2] or "-1"
        return -1 if text == "-1" else int(text, 16)

    def stop_reply(self, sig: int, tid: int) -> str:
        self.tid = tid
        self.stopped = (sig, tid)
        return f"T{to_gdb_signal(sig):02x}thread:{self.thread_id(tid)};"

    def serve(self, reply: str | None) -> Resume:
        """Send ``reply`` (a stop reply, or None at the first connection) and answer
        commands until one resumes the target. A lost connection detaches."""
        conn = self.conn
        try:
            if reply is not None:
                conn.send_packet(reply)
            while True:
                packet = conn.read_packet()
                if packet == INTERRUPT:
                    continue  # already stopped
                resume, answer = self.command(packet.decode("latin-1"))
                if answer is not None:
                    conn.send_packet(answer)
                if resume is not None:
                    return resume
        except Disconnected:
            return Resume("D")

    def command(self, p: str) -> tuple[Resume | None, str | None]:
        """(how the target resumes, or None; the answer, or None for no packet)."""
        t = self.target
        head = p[:1]
        if head == "?":
            return None, self.stop_reply(*self.stopped)
        if head in "cs" and head:
            return Resume(head), None
        if head in "CS" and head:
            sig = int(p[1:].split(";")[0] or "0", 16)
            return Resume(head.lower(), from_gdb_signal(sig)), None
        if head == "g":
            return None, t.read_registers().hex()
        if head == "G":
            return None, "E01"  # (gdb writes single registers with P)
        if head == "p":
            data = t.read_register(int(p[1:], 16))
            return None, data.hex() if data is not None else "E01"
        if head == "P":
            n, _, value = p[1:].partition("=")
            return None, "OK" if t.write_register(int(n, 16), bytes.fromhex(value)) else "E01"
        if head == "m":
            addr, _, length = p[1:].partition(",")
            data = t.read_memory(int(addr, 16), int(length, 16))
            return None, data.hex() if data is not None else "E14"
        if head in "MX" and head:
            where, _, data = p[1:].partition(":")
            addr, _, length = where.partition(",")
            raw = bytes.fromhex(data) if head == "M" else data.encode("latin-1")
            raw = raw[:int(length, 16)]
            return None, "OK" if not raw or t.write_memory(int(addr, 16), raw) else "E14"
        if head in "Zz" and head:
            kind, addr, _ = (p[1:].split(",") + ["", ""])[:3]
            if kind not in ("0", "1"):
                return None, ""  # watchpoints: not supported
            if head == "Z":
                t.insert_breakpoint(int(addr, 16))
            else:
                t.remove_breakpoint(int(addr, 16))
            return None, "OK"
        if head == "H":
            return None, "OK"
        if head == "T":
            return None, "OK" if self.parse_thread(p[1:] or "0") in t.thread_ids() else "E22"
        if head == "k":
            return Resume("k"), None
        if head == "D":
            return Resume("D"), "OK"
        if head == "q" or head == "Q":
            return None, self.query(p)
        if p.startswith("vCont"):
            return self.vcont(p)
        return None, ""

    def query(self, p: str) -> str | None:
        t = self.target
        if p.startswith("qSupported"):
            self.multiprocess = "multiprocess+" in p
            return ("PacketSize=1000;qXfer:features:read+;qXfer:auxv:read+;QStartNoAckMode+;"
                    "vContSupported+" + (";multiprocess+" if self.multiprocess else ""))
        if p == "QStartNoAckMode":
            self.conn.send_packet("OK")  # acknowledged like every packet before it
            self.conn.ack = False
            return None  # (answered above, while acknowledgements were still on)
        if p.startswith("qXfer:"):
            obj, _, rest = p[len("qXfer:"):].partition(":read:")
            annex, _, span = rest.partition(":")
            if (obj, annex) == ("features", "target.xml"):
                data = t.target_xml().encode()
            elif (obj, annex) == ("auxv", ""):
                data = t.auxv()
            else:
                return "E00"
            off, _, length = span.partition(",")
            start = int(off, 16)
            chunk = data[start:start + int(length, 16)]
            return ("m" if start + len(chunk) < len(data) else "l") + chunk.decode("latin-1")
        if p.startswith("qAttached"):
            return "0"  # (the stub started the process, as QEMU answers in user mode)
        if p == "qC":
            return f"QC{self.thread_id(self.tid)}"
        if p == "qfThreadInfo":
            return "m" + ",".join(self.thread_id(tid) for tid in t.thread_ids())
        if p == "qsThreadInfo":
            return "l"
        if p == "qOffsets":
            return t.offsets()
        if p.startswith("qSymbol"):
            return "OK"
        return ""

    def vcont(self, p: str) -> tuple[Resume | None, str | None]:
        if p == "vCont?":
            return None, "vCont;c;C;s;S"
        resume = None
        for action in p[len("vCont;"):].split(";"):
            what, _, tid = action.partition(":")
            if tid and self.parse_thread(tid) not in (-1, 0, self.tid):
                continue  # (other threads keep running: they are not stopped)
            kind = what[:1]
            sig = from_gdb_signal(int(what[1:], 16)) if kind in "CS" and what[1:] else 0
            if kind in "cCsS" and kind and resume is None:
                resume = Resume(kind.lower(), sig)
        return resume, None if resume is not None else "E01"

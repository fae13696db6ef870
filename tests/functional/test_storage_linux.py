"""Debian's arm64 Linux on three qcow2 disks: virtio-blk on virtio-mmio, NVMe, virtio-blk-pci (issue 6).

Acceptance 2 and 3 in ONE boot per emulator (pyqemu needs minutes for it). The emulator runs under
``strace -f --seccomp-bpf`` (only fdatasync/fsync and the console writes stop the process), the
kernel is Debian's and the initramfs loads the virtio_mmio, virtio_pci, virtio_blk, nvme and ext4
modules from the same package (tests/storage_assets.py), then runs GUEST_SCRIPT:

1. each disk (ext4 made on the host, holding id.txt and host.bin) mounts; the guest prints the
   sha256 of host.bin, writes guest.bin (random) and big.bin (16 MiB), ``sync``s and waits
   (the host records each image's allocated size, then presses Enter);
2. the guest deletes big.bin, syncs and runs ``fstrim``, and waits again: with ``discard=unmap`` (the
   virtio-mmio and NVMe disks) the qcow2 file's allocated size shrank by most of big.bin, with
   ``discard=ignore`` (virtio-blk-pci) it did not;
3. flush: after unmounting, for each disk twice: write a block past the filesystem's end, print
   FLUSH-START, ``sync /dev/X`` (fsync of the block device: the data, then a flush request),
   print FLUSH-DONE. In strace's log, an fdatasync/fsync of that disk's image file must complete
   between the two console writes: the guest's flush completed only after the image was on disk.
After ``poweroff -f`` (exit status 0) the host checks with debugfs (after a qemu-img convert) that
guest.bin holds what the guest hashed, big.bin is gone, the flushed blocks are in the images, and
real ``qemu-img check`` passes on all three.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boot_assets  # noqa: E402
import storage_assets as sa  # noqa: E402
from conftest import unavailable  # noqa: E402
from debian_pkgs import PackageUnavailable  # noqa: E402
from ptyterm import PtyProgram  # noqa: E402

EMULATORS = {"qemu": "qemu-system-aarch64", "pyqemu": "pyqemu-system-aarch64"}
# pyqemu: ~4 min to the first pause on an idle 2-core box (boot ~100 s, insmod ~50 s, mounts ~60 s)
BOOT_TIMEOUT = {"qemu": 120.0, "pyqemu": 900.0}
STEP_TIMEOUT = {"qemu": 60.0, "pyqemu": 600.0}
DISK_MIB, FS_MIB = 64, 60          # the filesystem leaves the last 4 MiB for the raw flush blocks
FLUSH_BLOCK = (62 << 20) // 4096   # 4 KiB block numbers FLUSH_BLOCK + k, past the filesystem
BIG_MIB = 16
# id -> (device, -drive discard=)
DISKS = {"mmio": ("virtio-blk-device", "unmap"), "nvme": ("nvme", "unmap"),
         "pci": ("virtio-blk-pci", "ignore")}
DEVS = "vda vdb nvme0n1"

GUEST_SCRIPT = f"""
for d in {DEVS}; do
  n=0; while [ ! -b /dev/$d ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
done
cat /proc/partitions
for d in {DEVS}; do
  mkdir -p /mnt/$d
  if mount -t ext4 /dev/$d /mnt/$d; then
    echo "DISK $d $(cat /mnt/$d/id.txt) $(sha256sum /mnt/$d/host.bin | cut -d' ' -f1)"
    dd if=/dev/urandom of=/mnt/$d/guest.bin bs=4096 count=16 2>/dev/null
    echo "GUEST $d $(sha256sum /mnt/$d/guest.bin | cut -d' ' -f1)"
    dd if=/dev/zero of=/mnt/$d/big.bin bs=1M count={BIG_MIB} 2>/dev/null
  else
    echo "MOUNT-FAILED $d"
  fi
done
sync
echo PAUSE-WRITTEN
read -r line
rm -f /mnt/*/big.bin
sync   # commits the journal: ext4 trims only blocks whose freeing is committed
for d in {DEVS}; do echo "TRIM $d $(fstrim -v /mnt/$d 2>&1)"; done
sync
echo PAUSE-TRIMMED
read -r line
for d in {DEVS}; do umount /mnt/$d; done
for d in {DEVS}; do
  for k in 1 2; do
    echo "FLUSHED-DATA $k $d" | dd of=/dev/$d bs=4096 seek=$(({FLUSH_BLOCK} + k)) conv=sync 2>/dev/null
    echo "FLUSH-START $k $d"
    sleep 1
    sync /dev/$d
    echo "FLUSH-DONE $k $d"
  done
done
"""


@pytest.fixture(scope="module")
def assets() -> tuple[Path, Path]:
    missing = sa.missing_tools()
    if missing:
        unavailable(f"not installed: {', '.join(missing)}")
    if shutil.which("strace") is None:
        unavailable("strace not installed (apt-get install strace)")
    try:
        return boot_assets.linux_image_arm64(), sa.modules_initramfs(GUEST_SCRIPT)
    except PackageUnavailable as e:
        unavailable(str(e))


def _allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def _unescape(s: str) -> str:
    """strace's C-style string escapes (with -xx off) back to text."""
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape", "replace")


def flush_windows(strace_log: str, tty: str, images: dict[str, Path]) -> tuple[str, list[tuple[str, int]]]:
    """(console text written to ``tty``, [(image id, console offset) per completed fdatasync/fsync])."""
    console: list[str] = []
    length = 0
    syncs: list[tuple[str, int]] = []
    pending: dict[str, str] = {}                   # pid -> image id of an unfinished fdatasync
    by_path = {str(p.resolve()): name for name, p in images.items()}
    for line in strace_log.splitlines():
        pid, _, rest = line.partition(" ")
        rest = rest.strip()
        # the console: any fd open on the pty (QEMU's stdio chardev uses writev on fd 1)
        m = re.match(rf'write\(\d+<{re.escape(tty)}>, "(.*)"(?:\.\.\.)?, \d+', rest)
        if not m:
            m = re.match(rf"writev\(\d+<{re.escape(tty)}>, \[(.*)\], \d+", rest)
        if m:
            text = "".join(_unescape(b) for b in re.findall(r'iov_base="((?:[^"\\]|\\.)*)"', m.group(1))) \
                if rest.startswith("writev") else _unescape(m.group(1))
            console.append(text)
            length += len(text)
            continue
        m = re.match(r"(?:fdatasync|fsync)\(\d+<([^>]*)>\)?(.*)", rest)
        if m:
            image = by_path.get(m.group(1))
            if image is None:
                continue
            if "unfinished" in m.group(2):
                pending[pid] = image
            elif re.search(r"= 0$", m.group(2)):
                syncs.append((image, length))
            continue
        m = re.match(r"<\.\.\. (?:fdatasync|fsync) resumed>\).*= 0$", rest)
        if m and pid in pending:
            syncs.append((pending.pop(pid), length))
    return "".join(console), syncs


# One worker runs the storage boots one after another (scripts/test.sh: --dist loadgroup): under
# pyqemu, U-Boot's 3 s NVMe command timeout was hit twice while the Linux storage boot ran beside it.
@pytest.mark.xdist_group("storage-boots")
@pytest.mark.timeout(1800)   # one long pyqemu boot instead of several (the suite's default is 600 s)
@pytest.mark.parametrize("emulator", ["qemu", "pyqemu"])
def test_linux_ext4_write_trim_flush(emulator: str, assets: tuple[Path, Path], tmp_path: Path) -> None:
    exe = shutil.which(EMULATORS[emulator])
    if exe is None:
        unavailable(f"{EMULATORS[emulator]} not installed")
    kernel, initrd = assets
    images: dict[str, Path] = {}
    host_bins: dict[str, bytes] = {}
    argv = ["strace", "-f", "--seccomp-bpf", "-qq", "-y", "-s", "65536", "-e", "signal=none",
            "-e", "trace=write,writev,fdatasync,fsync", "-o", str(tmp_path / "strace.log"),
            exe, "-M", "virt", "-cpu", "cortex-a57", "-m", "512", "-nographic", "-nic", "none",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyAMA0 cryptomgr.notests"]
    for i, (name, (device, discard)) in enumerate(DISKS.items()):
        host_bins[name] = sa.data(100 + i, 200_000 + i)
        raw = sa.make_ext4(tmp_path / f"{name}.raw", {"id.txt": name.encode(), "host.bin": host_bins[name]},
                           DISK_MIB, FS_MIB)
        images[name] = sa.to_qcow2(raw, tmp_path / f"{name}.qcow2")
        raw.unlink()
        argv += ["-drive", f"if=none,id=d{name},file={images[name]},format=qcow2,discard={discard}",
                 "-device", f"{device},drive=d{name},serial=pyqemu-{name}"]
    p = PtyProgram(argv)
    tty = os.ttyname(p.slave)
    try:
        log = p.until(b"PAUSE-WRITTEN", BOOT_TIMEOUT[emulator]).decode(errors="replace")
        written = {n: _allocated(img) for n, img in images.items()}
        p.send(b"\r")
        log += p.until(b"PAUSE-TRIMMED", STEP_TIMEOUT[emulator]).decode(errors="replace")
        trimmed = {n: _allocated(img) for n, img in images.items()}
        p.send(b"\r")
        log += p.until(sa.INIT_DONE.encode(), STEP_TIMEOUT[emulator]).decode(errors="replace")
        status = p.wait(STEP_TIMEOUT[emulator])
        log += p.out.decode(errors="replace")
    except AssertionError as exc:
        tail = p.out.decode(errors="replace").replace("\r", "")[-4000:]
        raise AssertionError(f"{str(exc)[:200]}...\n--- console (tail):\n{tail}") from None
    finally:
        if p.proc.poll() is None:   # strace and the emulator: the whole process group
            os.killpg(p.proc.pid, signal.SIGKILL)
        p.close()
    log = log.replace("\r", "")
    print(log)   # shown by pytest when the test fails
    assert "INSMOD-FAILED" not in log and "MOUNT-FAILED" not in log, log[-6000:]
    assert status == 0, log[-3000:]

    # the guest saw the host's files on every disk, and wrote its own
    disks = {m[2]: (m[1], m[3]) for m in re.finditer(r"^DISK (\S+) (\S+) (\S+)$", log, re.M)}
    assert set(disks) == set(DISKS), log[-6000:]
    guest_sums = dict(re.findall(r"^GUEST (\S+) (\S+)$", log, re.M))
    dev_of = {name: dev for name, (dev, _) in disks.items()}
    for name, (dev, host_sum) in disks.items():
        assert host_sum == hashlib.sha256(host_bins[name]).hexdigest(), name
        assert re.search(rf"^TRIM {dev} /mnt/{dev}: \d+ bytes trimmed", log, re.M), log[-3000:]

    # after poweroff: files in the images, qemu-img check clean
    for name, img in images.items():
        check = sa.qemu_img_check(img)
        assert check.returncode == 0, (name, check.stdout, check.stderr)
        assert sa.ext4_read(img, "host.bin") == host_bins[name], name
        guest_bin = sa.ext4_read(img, "guest.bin")
        assert guest_bin is not None and len(guest_bin) == 65536, name
        assert hashlib.sha256(guest_bin).hexdigest() == guest_sums[dev_of[name]], name
        assert sa.ext4_read(img, "big.bin") is None, name
        with open(sa.to_raw(img, tmp_path / f"{name}.check.raw"), "rb") as f:
            for k in (1, 2):
                f.seek((FLUSH_BLOCK + k) * 4096)
                block = f.read(4096)
                want = f"FLUSHED-DATA {k} {dev_of[name]}\n".encode()
                assert block.rstrip(b"\0") == want, (name, k, block[:64])

    # fstrim: discard=unmap freed big.bin's clusters in the qcow2 file, discard=ignore did not
    for name, (_, discard) in DISKS.items():
        freed = written[name] - trimmed[name]
        if discard == "unmap":
            assert freed >= (BIG_MIB - 2) << 20, (name, written[name], trimmed[name])
        else:
            assert freed <= 1 << 20, (name, written[name], trimmed[name])

    # flush: each FLUSH-START/FLUSH-DONE window holds a completed fdatasync of that disk's image
    console, syncs = flush_windows((tmp_path / "strace.log").read_text(errors="replace"), tty, images)
    for name, dev in dev_of.items():
        for k in (1, 2):
            # offsets in the console text as written (with the tty's \r)
            start = console.index(f"FLUSH-START {k} {dev}\r\n") + len(f"FLUSH-START {k} {dev}\r\n")
            done = console.index(f"FLUSH-DONE {k} {dev}\r\n")
            hits = [off for img, off in syncs if img == name and start <= off <= done]
            assert hits, (name, k, start, done, [s for s in syncs if s[0] == name])

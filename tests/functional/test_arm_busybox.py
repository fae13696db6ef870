"""Debian's unmodified ``busybox-static:armhf`` under qemu-arm vs pyqemu-arm.

The tests of tests/functional/test_busybox.py (the AArch64 issue's list: the same applets,
shell scripts and input files), imported from there under ``test_arm_*`` names and run with
this module's ``bb`` fixture.  stdout must be byte-identical, the exit status equal, and
stderr identical too (busybox's messages are deterministic).  See test_busybox.py for why
shell scripts only use builtins and in-process applets.
"""

from __future__ import annotations

import arm_harness
import pytest
import test_busybox
from arm_harness import assert_same_arm
from test_busybox import BusyboxRuns

# fixtures
bbroot = test_busybox.bbroot
busybox_armhf = arm_harness.busybox_armhf
qemu_arm = arm_harness.qemu_arm
pyqemu_arm = arm_harness.pyqemu_arm


@pytest.fixture
def bb(busybox_armhf, qemu_arm, pyqemu_arm, bbroot) -> BusyboxRuns:
    """busybox-static:armhf under qemu-arm and pyqemu-arm, stderr compared too."""
    return BusyboxRuns(busybox_armhf, qemu_arm, pyqemu_arm, bbroot, assert_same_arm)


# tests: test_busybox.py's, run with the fixture above
test_arm_sh = test_busybox.test_sh
test_arm_applet = test_busybox.test_applet
test_arm_applet_errors = test_busybox.test_applet_errors
test_arm_stdin_pipeline = test_busybox.test_stdin_pipeline
test_arm_gzip_1mib = test_busybox.test_gzip_1mib
test_arm_gunzip_1mib = test_busybox.test_gunzip_1mib
test_arm_tar_roundtrip = test_busybox.test_tar_roundtrip

"""The virtio device core (QEMU ``hw/virtio/virtio.c``): what every virtio device shares.

Interface:
  ``VirtIODevice`` (TYPE ``virtio-device``, abstract, plugs into a ``virtio-bus``): feature
  negotiation, device status (0 resets), ISR, config space and its generation, the device's
  virtqueues (``pyqemu.hw.virtio.virtqueue``), ``notify``/``notify_config`` and ``virtio_error``.
  A transport (virtio-mmio, virtio-pci) owns a bus of type ``virtio-mmio-bus``/``virtio-pci-bus``
  (one device each); when a device is plugged it sets ``vdev.transport`` and ``vdev.dma`` and
  calls ``vdev.plugged()``, which computes ``host_features``.
  Transport protocol: ``transport.legacy``, ``transport.update_irq(vector)``, ``transport.dma_as``,
  and ``transport.transport_features()`` (optional: bits the transport adds, e.g. VERSION_1).
  Subclasses define ``VIRTIO_ID``, ``NAME``, ``device_features(features) -> int``, ``get_config()
  -> bytes``, ``set_config(data)``, ``handle_output(vq)``, ``device_reset()`` and may override
  ``device_set_status`` / ``device_set_features``.
Spec   Virtio 1.1 sections 2 (basic facilities) and 3 (initialization).

Guest errors (QEMU ``virtio_error``): logged under ``-d guest_errors``, the device is marked
broken (its queues stop) until reset and, once VERSION_1 was negotiated, NEEDS_RESET is set and
a configuration-change interrupt sent.
"""
from __future__ import annotations

from typing import Any, ClassVar

from pyqemu.hw.virtio.virtqueue import (
    VIRTIO_NO_VECTOR,
    VIRTQUEUE_MAX_SIZE,
    VirtQueue,
    VirtQueueElement,
    is_ram,
)
from pyqemu.memory import AddressSpace
from pyqemu.qom.device import Bus, Device, Prop
from pyqemu.util import log

__all__ = ["VirtIODevice", "VirtQueue", "VirtQueueElement", "VirtioBus", "VIRTIO_NO_VECTOR",
           "VIRTQUEUE_MAX_SIZE", "VIRTIO_QUEUE_MAX"]

VIRTIO_CONFIG_S_ACKNOWLEDGE = 1
VIRTIO_CONFIG_S_DRIVER = 2
VIRTIO_CONFIG_S_DRIVER_OK = 4
VIRTIO_CONFIG_S_FEATURES_OK = 8
VIRTIO_CONFIG_S_NEEDS_RESET = 0x40
VIRTIO_CONFIG_S_FAILED = 0x80

VIRTIO_F_NOTIFY_ON_EMPTY = 24
VIRTIO_F_ANY_LAYOUT = 27
VIRTIO_RING_F_INDIRECT_DESC = 28
VIRTIO_RING_F_EVENT_IDX = 29
VIRTIO_F_BAD_FEATURE = 30
VIRTIO_F_VERSION_1 = 32
VIRTIO_F_IOMMU_PLATFORM = 33
VIRTIO_F_RING_PACKED = 34
VIRTIO_F_RING_RESET = 40

VIRTIO_QUEUE_MAX = 1024
#: features a modern driver never sees (virtio.c VIRTIO_LEGACY_FEATURES)
VIRTIO_LEGACY_FEATURES = (1 << VIRTIO_F_NOTIFY_ON_EMPTY) | (1 << VIRTIO_F_ANY_LAYOUT) \
    | (1 << VIRTIO_F_BAD_FEATURE)

ISR_QUEUE = 1
ISR_CONFIG = 2


class VirtioBus(Bus):
    """QEMU TYPE_VIRTIO_BUS: a transport's bus, holding at most one virtio device."""

    TYPE = "virtio-bus"
    ABSTRACT = True
    BUS_ACCEPTS = "virtio-device"
    max_devices = 1


class VirtIODevice(Device):
    """A virtio device; see the module docstring."""

    TYPE = "virtio-device"
    ABSTRACT = True
    BUS_TYPE = "virtio-bus"
    VIRTIO_ID: ClassVar[int] = 0
    NAME: ClassVar[str] = "virtio"

    # transport-independent feature properties (DEFINE_VIRTIO_COMMON_FEATURES)
    # (QEMU's names, and like QEMU they show the offered bits after plugging: ``info qtree``
    # prints any_layout = false for a legacy virtio-blk)
    indirect_desc = Prop("bool", True, name="indirect_desc")
    event_idx = Prop("bool", True, name="event_idx")
    notify_on_empty = Prop("bool", True, name="notify_on_empty")
    any_layout = Prop("bool", True, name="any_layout")
    iommu_platform = Prop("bool", False, name="iommu_platform")
    packed = Prop("bool", False)
    queue_reset = Prop("bool", True, name="queue_reset")
    use_started = Prop("bool", True)
    use_disabled_flag = Prop("bool", True)
    x_disable_legacy_check = Prop("bool", False)

    def __init__(self) -> None:
        super().__init__()
        self.vqs: list[VirtQueue] = []
        self.status = 0
        self.host_features = 0
        self.guest_features = 0
        self.isr = 0
        self.config_vector = VIRTIO_NO_VECTOR
        self.config_generation = 0
        self.queue_sel = 0
        self.broken = False
        self.started = False
        self._in_notify = False
        self.transport: Any = None
        self.dma: AddressSpace | None = None   # type: ignore[assignment]

    # -- setup (device side) ----------------------------------------------------------------------
    def add_queue(self, size: int) -> VirtQueue:
        """virtio_add_queue: a new queue of ``size`` entries; notifications call handle_output."""
        if len(self.vqs) >= VIRTIO_QUEUE_MAX or size > VIRTQUEUE_MAX_SIZE:
            raise ValueError("virtio: too many queues or queue too large")
        vq = VirtQueue(self, len(self.vqs), size)
        self.vqs.append(vq)
        return vq

    _FEATURE_PROPS: ClassVar[tuple[tuple[int, str], ...]] = (
        (VIRTIO_RING_F_INDIRECT_DESC, "indirect_desc"), (VIRTIO_RING_F_EVENT_IDX, "event_idx"),
        (VIRTIO_F_NOTIFY_ON_EMPTY, "notify_on_empty"), (VIRTIO_F_ANY_LAYOUT, "any_layout"),
        (VIRTIO_F_IOMMU_PLATFORM, "iommu_platform"), (VIRTIO_F_RING_PACKED, "packed"),
        (VIRTIO_F_RING_RESET, "queue_reset"))

    def common_features(self) -> int:
        f = 0
        for bit, attr in self._FEATURE_PROPS:
            if getattr(self, attr):
                f |= 1 << bit
        return f

    def _set_prop(self, attr: str, value: Any) -> None:
        """Change a property during realize (QEMU devices write back what they resolved)."""
        self.__dict__[getattr(type(self), attr).attr] = value

    def realize(self) -> None:
        """Devices create their queues first, then call this (virtio_device_realize's tail):
        the features are fixed and the transport told (``transport.device_plugged(vdev)``)."""
        self.plugged()
        hook = getattr(self.transport, "device_plugged", None)
        if hook is not None:
            hook(self)

    def plugged(self) -> None:
        """Called by the transport after setting ``transport``/``dma`` (virtio_bus_device_plugged):
        the offered features are the common ones, the transport's, then the device's view."""
        f = self.common_features()
        tf = getattr(self.transport, "transport_features", None)
        if tf is not None:
            f |= tf()
        self.host_features = self.device_features(f)
        for bit, attr in self._FEATURE_PROPS:
            self._set_prop(attr, bool(self.host_features >> bit & 1))

    # -- hooks for devices --------------------------------------------------------------------------
    def device_features(self, features: int) -> int:
        """The device's get_features: add/remove bits of ``features``."""
        return features

    def device_set_features(self, features: int) -> None:
        """Called with the accepted features."""

    def device_set_status(self, status: int) -> None:
        """Called before ``status`` is stored."""

    def device_reset(self) -> None:
        """Device-specific reset (drain requests, config defaults)."""

    def get_config(self) -> bytes:
        """The current config space (its length is ``config_len()``)."""
        return b""

    def set_config(self, data: bytes) -> None:
        """The guest wrote the config space (``data`` is the whole space after the write)."""

    def handle_output(self, vq: VirtQueue) -> None:
        """The driver kicked ``vq``."""

    # -- transport-facing ---------------------------------------------------------------------------
    @property
    def legacy(self) -> bool:
        return bool(getattr(self.transport, "legacy", True))

    @property
    def device_id(self) -> int:
        return self.VIRTIO_ID

    def has_feature(self, bit: int) -> bool:
        """virtio_vdev_has_feature: negotiated?"""
        return bool(self.guest_features >> bit & 1)

    def get_queue(self, n: int) -> VirtQueue | None:
        return self.vqs[n] if 0 <= n < len(self.vqs) else None

    def get_features(self) -> int:
        return self.host_features

    def set_features(self, value: int) -> int:
        """virtio_set_features: refused once FEATURES_OK is set; unoffered bits are dropped.
        Returns 0, or -1 when the driver asked for bits that were not offered."""
        if self.status & VIRTIO_CONFIG_S_FEATURES_OK:
            return -1
        bad = value & ~self.host_features
        value &= self.host_features
        self.device_set_features(value)
        self.guest_features = value
        return -1 if bad else 0

    def set_status(self, value: int) -> None:
        """virtio_set_status; 0 also resets the device (as every transport does after it)."""
        value &= 0xFF
        if (self.status & VIRTIO_CONFIG_S_DRIVER_OK) != (value & VIRTIO_CONFIG_S_DRIVER_OK):
            self.started = bool(value & VIRTIO_CONFIG_S_DRIVER_OK)
        self.device_set_status(value)
        self.status = value
        if value == 0:
            self.reset()

    def reset(self) -> None:
        """virtio_reset: device reset, features, status, ISR and queues cleared; the line drops.
        The config generation survives, as in QEMU."""
        if self.status:
            self.device_set_status(0)
        self.device_reset()
        self.started = False
        self.broken = False
        self.guest_features = 0
        self.queue_sel = 0
        self.status = 0
        self.isr = 0
        self.config_vector = VIRTIO_NO_VECTOR
        self.notify_vector(self.config_vector)
        for vq in self.vqs:
            vq.reset()

    def config_len(self) -> int:
        return len(self.get_config())

    def config_read(self, offset: int, size: int) -> int:
        """A little-endian config-space read; all ones past the end (virtio_config_read*)."""
        cfg = self.get_config()
        if offset < 0 or offset + size > len(cfg):
            return (1 << (8 * size)) - 1
        return int.from_bytes(cfg[offset:offset + size], "little")

    def config_write(self, offset: int, value: int, size: int) -> None:
        """A little-endian config-space write; ignored past the end."""
        cfg = bytearray(self.get_config())
        if offset < 0 or offset + size > len(cfg):
            return
        cfg[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        self.set_config(bytes(cfg))

    def queue_notify(self, index: int) -> None:
        """The driver kicked queue ``index`` (virtio_queue_notify)."""
        vq = self.get_queue(index)
        if vq is None or not vq.desc or self.broken or self.dma is None:
            return
        if self._in_notify:
            # a ring or buffer that aliases a transport register would re-enter the device
            log.guest_error(f"{self.NAME}: re-entrant queue notification ignored")
            return
        for what, addr, size in (("desc", vq.desc, 16 * vq.num), ("avail", vq.avail, 6 + 2 * vq.num),
                                 ("used", vq.used, 6 + 8 * vq.num)):
            if not is_ram(self.dma, addr, size):
                self.virtio_error(f"Cannot map {what}")
                return
        self._in_notify = True
        try:
            self.handle_output(vq)
        finally:
            self._in_notify = False

    # -- interrupts -----------------------------------------------------------------------------------
    def notify_vector(self, vector: int) -> None:
        if self.broken or self.transport is None:
            return
        self.transport.update_irq(vector)

    def notify(self, vq: VirtQueue) -> None:
        """Interrupt the driver about used buffers of ``vq``, unless it asked not to be."""
        if not vq.should_notify():
            return
        self.isr |= ISR_QUEUE
        self.notify_vector(vq.vector)

    def notify_config(self) -> None:
        """A configuration change interrupt (only once the driver is up, as QEMU)."""
        if not self.status & VIRTIO_CONFIG_S_DRIVER_OK:
            return
        self.isr |= ISR_QUEUE | ISR_CONFIG
        self.config_generation = (self.config_generation + 1) & 0xFFFFFFFF
        self.notify_vector(self.config_vector)

    def update_irq(self) -> None:
        """Re-evaluate the interrupt after the driver acknowledged ISR bits."""
        self.notify_vector(VIRTIO_NO_VECTOR)

    def virtio_error(self, msg: str) -> None:
        """QEMU's virtio_error: log, break the device, and ask a modern driver to reset it."""
        log.guest_error(f"{self.NAME}: {msg}")
        if self.has_feature(VIRTIO_F_VERSION_1):
            self.status |= VIRTIO_CONFIG_S_NEEDS_RESET
            self.notify_config()
        self.broken = True

    def set_needs_reset(self, reason: str) -> None:
        """A device-detected guest error (contract name for ``virtio_error``)."""
        self.virtio_error(reason)

    # -- snapshots ----------------------------------------------------------------------------------
    def vmstate_save(self) -> dict:
        return {
            "status": self.status, "isr": self.isr, "guest_features": self.guest_features,
            "config_vector": self.config_vector, "generation": self.config_generation,
            "queue_sel": self.queue_sel, "broken": self.broken,
            "vqs": [{"num": q.num, "desc": q.desc, "avail": q.avail, "used": q.used,
                     "ready": q.ready, "vector": q.vector, "last_avail_idx": q.last_avail_idx,
                     "used_idx": q.used_idx, "signalled_used": q.signalled_used,
                     "signalled_used_valid": q.signalled_used_valid, "inuse": q.inuse}
                    for q in self.vqs],
        }

    def vmstate_load(self, state: dict) -> None:
        self.status = int(state["status"]) & 0xFF
        self.isr = int(state["isr"]) & 3
        self.guest_features = int(state["guest_features"]) & self.host_features
        self.config_vector = int(state["config_vector"])
        self.config_generation = int(state["generation"])
        self.queue_sel = int(state["queue_sel"])
        self.broken = bool(state["broken"])
        qs = state["vqs"]
        if len(qs) != len(self.vqs):
            raise ValueError(f"{self.NAME}: {len(qs)} queues in the state, device has {len(self.vqs)}")
        for q, s in zip(self.vqs, qs, strict=True):
            if not 1 <= int(s["num"]) <= VIRTQUEUE_MAX_SIZE:
                raise ValueError(f"{self.NAME}: bad queue size {s['num']}")
            for k in ("num", "desc", "avail", "used", "vector", "last_avail_idx", "used_idx",
                      "signalled_used", "inuse"):
                setattr(q, k, int(s[k]))
            q.ready = bool(s["ready"])
            q.signalled_used_valid = bool(s["signalled_used_valid"])
            q.shadow_avail_idx = q.last_avail_idx

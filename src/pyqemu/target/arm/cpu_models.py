"""AArch64 CPU models accepted by ``-cpu`` (identification registers only)."""

# name -> MIDR_EL1
CPU_MODELS: dict[str, int] = {
    "cortex-a35": 0x411FD040,
    "cortex-a53": 0x410FD034,
    "cortex-a57": 0x411FD070,
    "cortex-a72": 0x410FD083,
    "max": 0x000F0510,
}

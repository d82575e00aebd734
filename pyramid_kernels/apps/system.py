"""What the machine has (memory available to new allocations) and how the process allocates
(glibc malloc kept from returning the FFTs' large buffers to the system)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

STEADY_MALLOC_BYTES = 1 << 30  # allocations below: from the heap, kept after free


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def steady_malloc() -> bool:
    """Keep glibc from unmapping large freed blocks; returns whether it was set.

    Each frame's FFTs allocate tens of MB. By default glibc serves such blocks with mmap (or
    trims them off the heap) and returns them on free, so every frame pays page faults on fresh
    memory: up to a third of magnification time on CPU. With the mmap and trim thresholds at
    1 GiB, freed blocks are reused; resident memory stays at the high-water mark. A process
    setting (the CLI's magnify sets it): the environment MALLOC_MMAP_THRESHOLD_=1073741824
    MALLOC_TRIM_THRESHOLD_=1073741824 does the same for any program. No-op off glibc.
    """
    name = ctypes.util.find_library("c")
    if not name or not hasattr(os, "confstr"):
        return False
    try:
        if "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or "").lower():
            return False
        libc = ctypes.CDLL(name)
    except (OSError, ValueError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
    trim = libc.mallopt(m_trim_threshold, STEADY_MALLOC_BYTES)
    return bool(trim and libc.mallopt(m_mmap_threshold, STEADY_MALLOC_BYTES))

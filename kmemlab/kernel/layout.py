"""Machine profiles: page size, paging levels, the virtual address map and the zones.

One :class:`Profile` per architecture the course uses. Constants come from
arch/x86/include/asm/page_64_types.h, pgtable_64_types.h, pgtable_32_types.h and
Documentation/arch/x86/x86_64/mm.rst (the defaults without KASLR; with
CONFIG_RANDOMIZE_MEMORY a real machine moves the direct map, vmalloc and vmemmap bases).

Simplifications, said once: the physical memory map is "RAM from 0 with the legacy
hole 640 KiB..1 MiB and, above 3 GiB on x86_64, the PCI hole up to 4 GiB"; the boot
reservations are the first MiB, the kernel image and ``mem_map`` (``struct page`` array).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .types import as_int

__all__ = ["Profile", "Region", "PROFILES", "get_profile", "parse_size", "format_size",
           "direct_map_chunks"]

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40


@dataclass(frozen=True)
class Region:
    """A named range of the kernel's virtual address space, [start, end)."""
    name: str
    start: int
    end: int
    what: str

    @property
    def size(self) -> int:
        return self.end - self.start

    def __contains__(self, addr) -> bool:
        return self.start <= addr < self.end


@dataclass(frozen=True)
class Profile:
    """Everything that differs between the architectures kmemlab simulates."""
    name: str
    bits: int
    page_shift: int
    #: page-table levels from the top, with the address bit where each index starts
    levels: tuple[tuple[str, int, int], ...]   # (name, shift, entries)
    pte_bytes: int
    page_offset: int
    vmalloc_start: int | None        # None: computed from high_memory (i386)
    vmalloc_end: int                 # exclusive (the kernel's VMALLOC_END is inclusive on x86_64)
    regions: tuple[Region, ...]
    #: zone name -> first physical address *beyond* the zone, in zone order
    zones: tuple[tuple[str, int], ...]
    kernel_phys: int                 # CONFIG_PHYSICAL_START
    kernel_image: tuple[tuple[str, int], ...]   # sections and sizes in KiB ("Memory:" line)
    struct_page_size: int
    min_mem: int
    max_mem: int
    default_mem: int
    pci_hole: tuple[int, int] | None
    max_order: int = 11              # MAX_ORDER as in 4.x-6.3 (exclusive); orders 0..10
    pageblock_order: int = 9
    description: str = ""
    highmem_reserve: int = 0         # i386 __VMALLOC_RESERVE

    @property
    def page_size(self) -> int:
        return 1 << self.page_shift

    def has_zone(self, name: str) -> bool:
        return any(z == name for z, _ in self.zones)

    @property
    def kernel_image_bytes(self) -> int:
        return sum(kib for _, kib in self.kernel_image) * KiB


def _x86_64_regions(la57: bool) -> tuple[Region, ...]:
    if la57:
        low = [
            Region("user", 0, 0x0100000000000000, "user-space virtual memory (64 PiB)"),
            Region("direct map", 0xff11000000000000, 0xff91000000000000,
                   "direct mapping of all physical memory (page_offset_base)"),
            Region("vmalloc", 0xffa0000000000000, 0xffd2000000000000,
                   "vmalloc/ioremap space (vmalloc_base)"),
            Region("vmemmap", 0xffd4000000000000, 0xffd6000000000000,
                   "virtual memory map: the struct page array (vmemmap_base)"),
        ]
    else:
        low = [
            Region("user", 0, 0x0000800000000000, "user-space virtual memory (128 TiB)"),
            Region("direct map", 0xffff888000000000, 0xffffc88000000000,
                   "direct mapping of all physical memory (page_offset_base)"),
            Region("vmalloc", 0xffffc90000000000, 0xffffe90000000000,
                   "vmalloc/ioremap space (vmalloc_base)"),
            Region("vmemmap", 0xffffea0000000000, 0xffffeb0000000000,
                   "virtual memory map: the struct page array (vmemmap_base)"),
        ]
    high = [
        Region("cpu_entry_area", 0xfffffe0000000000, 0xfffffe8000000000, "cpu_entry_area mapping"),
        Region("espfix", 0xffffff0000000000, 0xffffff8000000000, "%esp fixup stacks"),
        Region("EFI", 0xffffffef00000000, 0xffffffff00000000, "EFI region mapping space"),
        Region("kernel text", 0xffffffff80000000, 0xffffffffa0000000,
               "kernel text mapping, mapped to physical address 0 (__START_KERNEL_map)"),
        Region("modules", 0xffffffffa0000000, 0xffffffffff000000, "module mapping space"),
        Region("vsyscall", 0xffffffffff600000, 0xffffffffff601000, "legacy vsyscall ABI"),
    ]
    return tuple(low + high)


_X86_64_IMAGE = (("kernel code", 16384), ("rwdata", 4096), ("rodata", 8192), ("bss", 4096))

PROFILES: dict[str, Profile] = {}


def _add(p: Profile) -> None:
    PROFILES[p.name] = p


_add(Profile(
    name="x86_64", bits=64, page_shift=12,
    levels=(("pgd", 39, 512), ("pud", 30, 512), ("pmd", 21, 512), ("pte", 12, 512)),
    pte_bytes=8, page_offset=0xffff888000000000,
    vmalloc_start=0xffffc90000000000, vmalloc_end=0xffffe90000000000,
    regions=_x86_64_regions(False),
    zones=(("DMA", 16 * MiB), ("DMA32", 4 * GiB), ("Normal", 1 << 52)),
    kernel_phys=16 * MiB, kernel_image=_X86_64_IMAGE, struct_page_size=64,
    min_mem=64 * MiB, max_mem=64 * GiB, default_mem=128 * MiB, pci_hole=(3 * GiB, 4 * GiB),
    description="x86_64, 4-level paging (48-bit virtual addresses)",
))
_add(Profile(
    name="x86_64-la57", bits=64, page_shift=12,
    levels=(("pgd", 48, 512), ("p4d", 39, 512), ("pud", 30, 512), ("pmd", 21, 512), ("pte", 12, 512)),
    pte_bytes=8, page_offset=0xff11000000000000,
    vmalloc_start=0xffa0000000000000, vmalloc_end=0xffd2000000000000,
    regions=_x86_64_regions(True),
    zones=(("DMA", 16 * MiB), ("DMA32", 4 * GiB), ("Normal", 1 << 52)),
    kernel_phys=16 * MiB, kernel_image=_X86_64_IMAGE, struct_page_size=64,
    min_mem=64 * MiB, max_mem=64 * GiB, default_mem=128 * MiB, pci_hole=(3 * GiB, 4 * GiB),
    description="x86_64, 5-level paging (LA57, 57-bit virtual addresses)",
))
# i386 without PAE: 2-level 10/10/12 paging, 3G/1G split (CONFIG_VMSPLIT_3G).
# VMALLOC_END = PKMAP_BASE - 2 * PAGE_SIZE with PKMAP_BASE 0xff800000 (LAST_PKMAP 1024).
_I386_VMALLOC_END = 0xff800000 - 2 * 4096
_add(Profile(
    name="i386", bits=32, page_shift=12,
    levels=(("pgd", 22, 1024), ("pte", 12, 1024)),
    pte_bytes=4, page_offset=0xC0000000,
    vmalloc_start=None, vmalloc_end=_I386_VMALLOC_END,
    regions=(
        Region("user", 0, 0xC0000000, "user-space virtual memory (3 GiB)"),
        Region("direct map", 0xC0000000, 0xC0000000, "lowmem: the direct mapping (up to ~888 MiB)"),
        Region("vmalloc", 0, _I386_VMALLOC_END, "vmalloc space, from high_memory + 8 MiB"),
        Region("pkmap", 0xff800000, 0xffc00000, "persistent kmap area (kmap of highmem pages)"),
        Region("fixmap", 0xffc00000, 0xfffff000, "fixed-address mappings (kmap_atomic)"),
    ),
    zones=(("DMA", 16 * MiB), ("Normal", 0), ("HighMem", 4 * GiB)),
    kernel_phys=16 * MiB,
    kernel_image=(("kernel code", 8192), ("rwdata", 1024), ("rodata", 2048), ("bss", 1024)),
    struct_page_size=32, min_mem=64 * MiB, max_mem=4 * GiB - 256 * MiB, default_mem=1 * GiB,
    pci_hole=None, highmem_reserve=128 * MiB,
    description="i386 without PAE, 2-level paging, 3G/1G split, highmem above ~888 MiB",
))
_add(Profile(
    name="tiny", bits=64, page_shift=12,
    levels=(("pgd", 39, 512), ("pud", 30, 512), ("pmd", 21, 512), ("pte", 12, 512)),
    pte_bytes=8, page_offset=0xffff888000000000,
    vmalloc_start=0xffffc90000000000, vmalloc_end=0xffffe90000000000,
    regions=_x86_64_regions(False),
    zones=(("DMA", 16 * MiB), ("DMA32", 4 * GiB), ("Normal", 1 << 52)),
    kernel_phys=1 * MiB,
    kernel_image=(("kernel code", 1024), ("rwdata", 256), ("rodata", 512), ("bss", 256)),
    struct_page_size=64, min_mem=4 * MiB, max_mem=256 * MiB, default_mem=16 * MiB, pci_hole=None,
    description="a small x86_64 for exercises: 16 MiB, a 2 MiB kernel, pictures that fit a slide",
))


def get_profile(name) -> Profile:
    if not isinstance(name, str):
        raise TypeError(f"profile must be a name such as 'x86_64', got {type(name).__name__} {name!r}")
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": KiB, "M": MiB, "G": GiB, "T": TiB}


def parse_size(value, what: str = "size") -> int:
    """``"128M"``, ``"4G"``, ``"16GiB"``, ``"512K"`` or an int of bytes -> bytes."""
    if isinstance(value, str):
        m = _SIZE_RE.match(value)
        if not m:
            raise ValueError(f"{what} {value!r} is not a size; write it like '128M', '4G' or 16777216")
        return int(m.group(1)) * _UNITS[m.group(2).upper()]
    try:
        n = as_int(value, what)
    except TypeError:
        raise TypeError(f"{what} must be a size like '128M' or an int of bytes, "
                        f"got {type(value).__name__} {value!r}") from None
    if n < 0:
        raise ValueError(f"{what} must not be negative, got {n}")
    return n


def format_size(n: int) -> str:
    for unit, mult in (("G", GiB), ("M", MiB), ("K", KiB)):
        if n >= mult and n % mult == 0:
            return f"{n // mult}{unit}"
    return str(n)


def direct_map_chunks(ranges: list[tuple[int, int]], gbpages: bool = True,
                      large: int = 2 * MiB) -> list[tuple[int, int, int]]:
    """init_memory_mapping() / split_mem_range(): how the direct map covers RAM.

    Each RAM range is cut into a 4 KiB head up to the first ``large``-aligned address,
    then 1 GiB pages (``gbpages``) where 1 GiB-aligned, 2 MiB (or 4 MiB) pages, and a
    4 KiB tail. Returns (start, end, page_size) pieces in address order.
    """
    out = []
    for s, e in ranges:
        a = min(e, -(-s // large) * large)
        if s < a:
            out.append((s, a, 4 * KiB))
        b = max(a, e // large * large)
        while a < b:
            if gbpages and a % GiB == 0 and a + GiB <= b:
                n = (b - a) // GiB * GiB
                out.append((a, a + n, GiB))
                a += n
            else:
                stop = min(b, (a // GiB + 1) * GiB) if gbpages else b
                out.append((a, stop, large))
                a = stop
        if b < e:
            out.append((b, e, 4 * KiB))
    return out

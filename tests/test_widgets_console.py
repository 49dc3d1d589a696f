"""The console panel: buttons call the API; bad input is a message, never a change."""

import pytest

import kmemlab as km
from kmemlab.widgets import Console
from kmemlab.widgets.console import get_order


@pytest.fixture
def m():
    return km.Machine(profile="x86_64", mem="128M", seed=2)


def state(m):
    return str(m.proc.buddyinfo()), m.mem_map.kind.tobytes(), m.mem_map.order.tobytes()


@pytest.mark.parametrize("typed", ["abc", "", "-3", "8G", "1T", "12", "0x7ff", "1.5"])
def test_bad_size_shows_a_message_and_leaves_the_machine_unchanged(m, typed):
    c = Console(m)
    before = state(m)
    c.size.value = typed
    c.alloc_button.click()
    assert "Error" in c.message.value               # ValueError/TypeError shown in the panel
    assert state(m) == before
    assert c.live == []


def test_alloc_button_allocates_the_typed_order_and_free_button_frees_it(m):
    c = Console(m)
    def free():                # the free lists and the per-cpu lists (order 3 is a pcp order)
        z = m.zone("DMA32")
        return z.nr_free_pages + z.nr_pcp_pages
    free0 = free()
    c.size.value = "3"
    c.alloc_button.click()
    assert len(c.live) == 1
    _, page, order = c.live[0]
    assert order == 3 and m.mem_map.order[page.pfn] == 3
    assert page.zone == "DMA32" and free() == free0 - 8
    assert f"{page.pfn:#x}" in c.message.value
    c.free_button.click()
    assert c.live == [] and free() == free0
    m.check_invariants()


def test_size_in_bytes_is_rounded_up_to_get_order(m):
    c = Console(m)
    c.size.value = "12K"
    c.alloc_button.click()
    assert c.live[0][2] == 2                        # 12 KiB needs 4 pages: get_order(12288) == 2
    assert [get_order(s, 12) for s in (1, 4096, 4097, 8192, 1 << 22)] == [0, 0, 1, 1, 10]


def test_gfp_picker_and_modifiers_reach_alloc_pages(m):
    c = Console(m)
    c.gfp.value = "GFP_DMA"
    c.modifiers.value = ("__GFP_ZERO",)
    c.size.value = "0"
    c.alloc_button.click()
    _, page, _ = c.live[0]
    assert page.zone == "DMA"


def test_free_with_nothing_selected_is_a_message(m):
    c = Console(m)
    before = state(m)
    c.free_button.click()
    assert "select an allocation" in c.message.value
    assert state(m) == before


def test_double_free_behind_the_consoles_back_is_shown_not_raised(m):
    c = Console(m)
    c.size.value = "1"
    c.alloc_button.click()
    _, page, order = c.live[0]
    m.free_pages(page, order)                       # freed in a cell, still in the console's list
    before = state(m)
    c.free_button.click()                           # the kernel's bad_page report, as a message
    assert "KernelBug" in c.message.value and "double free" in c.message.value
    assert state(m) == before
    c.flush()
    assert "VM_BUG_ON_PAGE(page_ref_count(page) == 0)" in c.dmesg.value    # put_page_testzero()


def test_failed_allocation_says_null_and_dmesg_shows_warn_alloc(m):
    c = Console(m)
    c.gfp.value = "GFP_DMA"
    c.size.value = "10"
    # GFP_DMA may only use ZONE_DMA: its order-10 blocks are all it can get
    for _ in range(m.zone("DMA").free_area[10].nr_free):
        c.alloc_button.click()
        assert "in zone DMA" in c.message.value
    c.alloc_button.click()
    assert "failed: NULL" in c.message.value
    assert "page allocation failure: order:10" in c.dmesg.value


def warn_and_poke(m):
    """A WARN in the log (kmalloc beyond KMALLOC_MAX_SIZE), then a change: a failed
    allocation changes no state, so it wakes no view by itself."""
    assert m.kmalloc(1 << 23) == km.NULL
    m.free_pages(m.alloc_pages(km.GFP_KERNEL, 0), 0)


def test_restore_forgets_the_consoles_allocations_and_shows_the_snapshots_log(m):
    c = Console(m)
    snap = m.snapshot()
    c.size.value = "2"
    c.alloc_button.click()
    assert len(c.live) == 1
    warn_and_poke(m)
    c.flush()
    assert "end trace" in c.dmesg.value
    m.restore(snap)
    c.flush()
    assert c.live == [] and c.allocations.options == ()
    assert "end trace" not in c.dmesg.value
    assert c.dmesg.value == "\n".join(str(m.dmesg()).splitlines()[-c.DMESG_LINES:])


def test_dmesg_clear_empties_the_consoles_log_at_its_next_redraw(m):
    c = Console(m)
    c.flush()
    assert c.dmesg.value
    m.dmesg(clear=True)
    m.free_pages(m.alloc_pages(km.GFP_KERNEL, 0), 0)   # a change: the console redraws
    c.flush()
    assert c.dmesg.value == ""
    warn_and_poke(m)
    c.flush()
    assert "end trace" in c.dmesg.value and "Memory:" not in c.dmesg.value


def test_a_button_inside_a_cells_trace_is_not_traced_twice(m):
    c = Console(m)
    c.size.value = "0"
    with m.trace() as t:
        c.alloc_button.click()                      # the cell's trace records it
    assert len(c.live) == 1 and c.trace.value == ""
    assert "alloc_pages" in str(t)
    c.alloc_button.click()                          # outside: the console traces it itself
    assert "alloc_pages" in c.trace.value

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

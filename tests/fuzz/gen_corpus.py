#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz_ops (tests/fuzz/corpus/).

Each input is a header (configuration, options, table cache, leaf sizes,
a failing allocation at create, a seed) and a sequence of operations in
the encoding fuzz_ops.c decodes (see its header comment): together they
reach every call, its errors and allocation failures, in every
configuration of tests/common.c. The helpers below mirror the decoder's
gen_*() functions byte for byte; change both together.

Usage: tests/fuzz/gen_corpus.py [DIR]   (default: the corpus next to it)
"""
import hashlib
import os
import sys

N_CFGS = 10  # tcfgs[] in tests/common.c

# Opcode low nibbles (op_kind() in fuzz_ops.c).
MAP, UNMAP, LOOKUP, SYNC, FLUSH_ALL, DIRTY, RECLAIM, STATS, INFO = \
    0, 5, 8, 10, 11, 12, 13, 14, 15
FAIL, BAD, AUTOSYNC = 0x10, 0x60, 0x80
COMPARE = INFO | 0x20


def u64(v):
    return list((v & (2**64 - 1)).to_bytes(8, "little"))


# gen_iova(): anchor 0 bottom, 1 middle, 2 top, 3 three quarters.
def iova_at(anchor, size_idx=0, mult=0, pages=0):
    return [0, anchor, size_idx, mult, pages]


def iova_in_range(which, how, off=0):
    # how: 0 start, 1 end, 2 inside (off pages), 3 before (1 + off pages)
    return [4, which, how] + ([off] if how >= 2 else [])


def iova_top(k):  # 2^ias + (k - 4) pages
    return [7, k]


def iova_raw(v):
    return [8] + u64(v)


def iova_unaligned(anchor=1, byte=0):
    return [9, anchor, 0, 0, byte]


def iova_near_2_64(k=0):
    return [10, k]


# gen_size()
def size_pages(n):  # n in 1..256
    return [0, n - 1]


def size_leaves(size_idx, n=1):  # n in 1..4
    return [2, size_idx, n - 1]


def size_leaves_plus(size_idx, n, pages):  # pages in -4..3
    return [4, size_idx, n - 1, pages + 4]


def size_mixed(tops, s1s, pages):
    return [5, tops, s1s, pages]


def size_zero():
    return [7]


def size_raw(v):
    return [8] + u64(v)


def size_to_top(k=2):  # 2^ias - iova + (k - 2) pages
    return [9, k]


def size_unaligned(byte=0):
    return [10, 0, byte]


def size_wrap(k=0):
    return [11, k]


# gen_pa()
def pa_congruent(size_idx=7, tops=0):
    return [0, size_idx, tops]


def pa_continue():
    return [4]


def pa_pages(n):
    return [6] + list(n.to_bytes(3, "little"))


def pa_raw(v):
    return [7] + u64(v)


def pa_oas_top(k=2):
    return [8, k]


# gen_prot(): below 192 an index into the valid protections; 192..249
# the low 6 bits raw; 250.. 4 raw bytes.
def prot(i=1):
    return [i]


def prot_raw6(bits):
    return [192 + bits] if 192 + bits < 250 else [192 | bits]


def prot_raw(v):
    return [250] + list(v.to_bytes(4, "little"))


def op_map(iova, size, pa, pr, opc=0, fail=None, bad=None):
    b = [MAP | opc | (FAIL if fail is not None else 0) |
         (BAD if bad is not None else 0)]
    b += iova + size + pa + pr
    if bad is not None:
        b.append(bad)
    if fail is not None:
        b.append(fail)
    return b


def op_unmap(iova, size, opc=0, fail=None, bad=None):
    b = [UNMAP | opc | (FAIL if fail is not None else 0) |
         (BAD if bad is not None else 0)]
    b += iova + size
    if bad is not None:
        b.append(bad)
    if fail is not None:
        b.append(fail)
    return b


def op_lookup(iova, offset=None, bad=False):
    b = [LOOKUP | (BAD if bad else 0)]
    b.append(0 if offset is not None else 1)
    b += iova
    if offset is not None:
        b.append(offset)
    return b


def op_sync(flush_all=False, bad=None):
    b = [(FLUSH_ALL if flush_all else SYNC) | (BAD if bad is not None else 0)]
    if bad is not None:
        b.append(bad)
    return b


def op_dirty(iova, size, flags=0, bad=None):
    b = [DIRTY | (BAD if bad is not None else 0)]
    b += iova + size + [flags]
    if bad is not None:
        b.append(bad)
    return b


def op_reclaim(bad=False):
    return [RECLAIM | (BAD if bad else 0)]


def op_stats(info=False, size=None, bad=False):
    b = [(INFO if info else STATS) | (BAD if bad else 0)]
    b += [1] if size is None else [0, size]
    return b


def op_compare():
    return [COMPARE]


def header(cfg, options=0, cache=0, leaf=0, leaf2=0, create_fail=0, seed=0):
    return [cfg, options, cache, leaf, (leaf2 & ~3) | create_fail, seed]


def basic(cfg, options, cache):
    """Superpages and pages mapped, looked up, split, unmapped, synced."""
    b = header(cfg, options, cache, seed=cfg)
    b += op_map(iova_at(1), size_leaves(1, 2), pa_congruent(), prot(1))
    b += op_map(iova_at(1, 1, 2), size_leaves_plus(0, 1, 3), pa_continue(),
                prot(1))
    b += op_lookup(iova_in_range(0, 2, 5), offset=0x33)
    b += op_lookup(iova_at(1, 2, 1))
    b += op_unmap(iova_in_range(0, 2, 3), size_pages(2))
    b += op_sync()
    b += op_map(iova_at(2, 7, 1), size_mixed(1, 1, 1), pa_congruent(7, 1),
                prot(2), opc=AUTOSYNC)
    b += op_map(iova_at(0), size_pages(16), pa_pages(77), prot(3))
    b += op_compare()
    b += op_dirty(iova_at(1), size_leaves(1, 4))
    b += op_unmap(iova_at(1), size_leaves(7, 2))
    b += op_sync(flush_all=True)
    b += op_reclaim()
    b += op_stats()
    b += op_stats(info=True)
    return b


def errors(cfg, options):
    """Every front-check error, -EEXIST, bad pointers, misused gathers."""
    b = header(cfg, options, 130, seed=7)
    b += op_map(iova_at(3), size_leaves(1), pa_congruent(), prot(0))
    b += op_map(iova_at(3), size_leaves(1), pa_congruent(), prot(0))  # EEXIST
    b += op_map(iova_unaligned(), size_pages(1), pa_congruent(), prot(0))
    b += op_map(iova_at(1), size_unaligned(9), pa_congruent(), prot(0))
    b += op_map(iova_at(1), size_zero(), pa_congruent(), prot(0))
    b += op_map(iova_at(2), size_to_top(3), pa_congruent(), prot(0))  # ERANGE
    b += op_map(iova_top(4), size_pages(1), pa_congruent(), prot(0))
    b += op_map(iova_near_2_64(1), size_pages(2), pa_congruent(), prot(0))
    b += op_map(iova_at(1), size_wrap(1), pa_congruent(), prot(0))
    b += op_map(iova_at(1), size_pages(1), pa_raw(0x1234), prot(0))
    b += op_map(iova_at(1), size_pages(4), pa_oas_top(3), prot(0))
    b += op_map(iova_at(1), size_pages(1), pa_congruent(), prot_raw6(0))
    b += op_map(iova_at(1), size_pages(1), pa_congruent(), prot_raw6(8))
    b += op_map(iova_at(1), size_pages(1), pa_congruent(), prot_raw6(2))
    b += op_map(iova_at(1), size_pages(1), pa_congruent(), prot_raw(0x101))
    b += op_map(iova_raw(0xdeadbeef000), size_raw(0x5000), pa_raw(0x7000),
                prot(1))
    b += op_unmap(iova_unaligned(2, 5), size_pages(3))
    b += op_unmap(iova_at(0), size_zero())
    b += op_unmap(iova_near_2_64(2), size_pages(3))
    b += op_unmap(iova_top(5), size_pages(1))
    b += op_lookup(iova_top(6))
    b += op_lookup(iova_raw(2**64 - 1))
    b += op_dirty(iova_unaligned(), size_pages(1))
    b += op_dirty(iova_at(3), size_leaves(1), flags=0x82)
    b += op_dirty(iova_at(3), size_wrap(0), flags=1)
    for k in range(3):
        b += op_map(iova_at(1), size_pages(1), pa_congruent(), prot(0), bad=k)
        b += op_unmap(iova_at(3), size_leaves(1), bad=k)
        b += op_sync(bad=k)
        b += op_sync(flush_all=True, bad=k)
    for k in range(4):
        b += op_dirty(iova_at(3), size_leaves(1), bad=k)
    b += op_lookup(iova_at(3), bad=True)
    b += op_reclaim(bad=True)
    b += op_stats(bad=True)
    b += op_stats(info=True, bad=True)
    b += op_stats(size=40)
    b += op_stats(info=True, size=20)
    b += op_compare()
    return b


def allocfail(cfg, options, cache):
    """Allocation failures in map (new tables) and unmap (splits)."""
    b = header(cfg, options, cache, seed=3)
    for k in range(4):
        b += op_map(iova_at(1, 0, 0, 1), size_mixed(1, 1, 3),
                    pa_congruent(7, 0), prot(1), fail=k)
    b += op_map(iova_at(3), size_leaves(7), pa_congruent(), prot(1),
                opc=AUTOSYNC)
    for k in range(4):
        b += op_unmap(iova_in_range(1, 2, 1), size_pages(1), fail=k)
    b += op_compare()
    b += op_unmap(iova_at(1), size_to_top(2), fail=0)
    return b


def configs(cfg):
    """Creation: options, table caches, leaf size subsets, failures."""
    out = []
    # Only the smallest size; the two smallest; a gap (invalid); a size
    # the format does not offer (invalid); a failing allocation at create;
    # an unknown option bit (invalid).
    for leaf, leaf2, cf, opt in ((0x01, 0, 0, 0), (0x03, 0, 0, 4),
                                 (0x02, 0, 0, 0), (0x81, 13 << 2, 0, 0),
                                 (0, 0, 1, 0), (0, 0, 2, 1),
                                 (0, 0, 0, 0xc8 | 2)):
        b = header(cfg, opt, 0, leaf, leaf2, cf, seed=5)
        b += op_map(iova_at(1), size_leaves(2, 1), pa_congruent(), prot(1))
        b += op_unmap(iova_in_range(0, 2, 2), size_pages(1))
        b += op_lookup(iova_at(1))
        b += op_sync()
        out.append(b)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    os.makedirs(outdir, exist_ok=True)
    inputs = []
    for cfg in range(N_CFGS):
        inputs.append(basic(cfg, cfg % 8, (0, 1, 3, 140)[cfg % 4]))
        inputs.append(errors(cfg, (cfg + 3) % 8))
        inputs.append(allocfail(cfg, cfg % 8, cfg % 3))
    # The creation variants on one configuration of each family.
    for cfg in (0, 2, 5, 7):
        inputs += configs(cfg)
    for old in os.listdir(outdir):
        os.unlink(os.path.join(outdir, old))
    for data in inputs:
        data = bytes(data)
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    print(f"{len(inputs)} inputs in {outdir}")


if __name__ == "__main__":
    main()

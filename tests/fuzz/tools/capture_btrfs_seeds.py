#!/usr/bin/env python3
"""Captures real btrfs ioctl results as fuzz seeds (run as root; see tests/fuzz/README.md).

Makes a small loop-mounted btrfs with the shapes the scanner meets (regular, inline,
compressed, preallocated and sparse files, hard links in several directories, enough long
links for INODE_EXTREFs, a snapshot), then writes TREE_SEARCH_V2, INO_PATHS and
LOGICAL_INO_V2 results in each target's input format into tests/fuzz/corpus/.
"""
import ctypes, fcntl, os, struct, subprocess, sys, tempfile

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def iowr(nr, size):
    return (3 << 30) | (size << 16) | (0x94 << 8) | nr


TREE_SEARCH_V2 = iowr(17, 112)
INO_PATHS = iowr(35, 56)
LOGICAL_INO_V2 = iowr(59, 56)
SYNC = (0x94 << 8) | 8  # _IO(0x94, 8)


def search(fd, tree_id, min_obj, max_obj, min_type, max_type, buf_size=4096, nr_items=4096):
    key = struct.pack("=7Q4I4Q", tree_id, min_obj, max_obj, 0, 2**64 - 1, 0, 2**64 - 1,
                      min_type, max_type, nr_items, 0, 0, 0, 0, 0)
    args = bytearray(key + struct.pack("=Q", buf_size) + bytes(buf_size))
    fcntl.ioctl(fd, TREE_SEARCH_V2, args)
    nr = struct.unpack_from("=I", args, 64)[0]
    buf = bytes(args[112:])
    items, pos = [], 0
    for _ in range(nr):
        transid, objectid, offset, typ, length = struct.unpack_from("=QQQII", buf, pos)
        items.append((objectid, typ, offset, buf[pos + 32:pos + 32 + length]))
        pos += 32 + length
    return nr, buf[:pos], items


def container_ioctl(fd, nr, head, size=4096):
    out = ctypes.create_string_buffer(size)
    args = bytearray(head(size, ctypes.addressof(out)))
    fcntl.ioctl(fd, nr, args)
    return out.raw


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def populate(mnt):
    run = lambda *a: subprocess.run(a, check=True)
    run("btrfs", "-q", "subvolume", "create", f"{mnt}/vol")
    v = f"{mnt}/vol"
    os.makedirs(f"{v}/dir a/sub")
    with open(f"{v}/big", "wb") as f:
        f.write(os.urandom(256 * 1024))
    with open(f"{v}/tiny", "wb") as f:
        f.write(b"inline bytes\n")
    with open(f"{v}/sparse", "wb") as f:
        f.write(os.urandom(4096)); f.seek(1 << 20); f.write(os.urandom(4096))
    with open(f"{v}/prealloc", "wb") as f:
        os.posix_fallocate(f.fileno(), 0, 64 * 1024)
    with open(f"{v}/zeros.z", "wb") as f:
        f.write(bytes(128 * 1024))
    os.link(f"{v}/big", f"{v}/dir a/big link")
    os.link(f"{v}/big", f"{v}/dir a/sub/big\nnewline")
    for i in range(100):  # long names in one directory overflow INODE_REF into INODE_EXTREFs
        os.link(f"{v}/tiny", f"{v}/dir a/" + ("L%03d" % i) * 50)
    run("btrfs", "-q", "subvolume", "snapshot", "-r", v, f"{mnt}/snap")
    run("sync")


def capture(mnt):
    v = f"{mnt}/vol"
    fd = os.open(v, os.O_RDONLY)
    fcntl.ioctl(fd, SYNC)
    seeds = 0
    # Whole fs tree of the subvolume in 4 KiB chunks, as the scanner's walk would read it.
    nr, buf, items = search(fd, 0, 256, 2**64 - 1, 0, 255, buf_size=4096)
    write("fuzz_search_buffer", "fs-tree-first-4k", struct.pack("=I", nr) + buf)
    nr, buf, _ = search(fd, 0, 256, 2**64 - 1, 1, 1, buf_size=4096)
    write("fuzz_search_buffer", "inode-items-only", struct.pack("=I", nr) + buf)
    nr, buf, _ = search(fd, 0, 256, 2**64 - 1, 108, 108, buf_size=4096)
    write("fuzz_search_buffer", "extent-data-only", struct.pack("=I", nr) + buf)
    nr, buf, _ = search(fd, 1, 5, 2**64 - 1, 132, 132, buf_size=8192)
    write("fuzz_search_buffer", "root-tree-root-items", struct.pack("=I", nr) + buf)
    nr, buf, _ = search(fd, 0, 256, 2**64 - 1, 0, 255, nr_items=1)
    write("fuzz_search_buffer", "one-item", struct.pack("=I", nr) + buf)
    all_items = []
    for ino in range(256, 512):  # every item of the few inodes, for per-type item seeds
        all_items += search(fd, 0, ino, ino, 0, 255, buf_size=1 << 20)[2]
    _, _, roots = search(fd, 1, 5, 2**64 - 1, 132, 132, buf_size=65536)
    selector = {1: 0, 108: 1, 12: 2, 13: 3, 132: 4}
    kept = {}
    for objectid, typ, offset, data in all_items + roots:
        if typ not in selector:
            continue
        # One of each shape: extent type, hole, compression; names: one, two, many entries.
        if typ == 108:
            shape = (typ, data[20], len(data) == 53 and data[21:29] == bytes(8), data[16])
        elif typ in (12, 13):
            shape = (typ, min(len(data) // 200, 2), len(data) > 16000)
        else:
            shape = (typ,)
        if shape in kept:
            continue
        kept[shape] = True
        name = "type%d-len%d-obj%d" % (typ, len(data), objectid)
        write("fuzz_btrfs_items", name, bytes([selector[typ]]) + struct.pack("<Q", offset) + data)
        seeds += 1
    # INO_PATHS of the thrice-linked file and the 41-times-linked one.
    for name in ("big", "tiny"):
        ino = os.stat(f"{v}/{name}").st_ino
        raw = container_ioctl(fd, INO_PATHS, lambda size, addr: struct.pack("=QQ4QQ", ino, size, 0, 0, 0, 0, addr))
        bytes_left, missing, cnt, elem_missed = struct.unpack_from("=4I", raw)
        used = max([16 + 8 * cnt] + [16 + off + raw[16 + off:].index(b"\0") + 1
                                     for off in struct.unpack_from("=%dQ" % cnt, raw, 16)])
        write("fuzz_ino_paths", f"paths-{name}", raw[:used])
    # LOGICAL_INO_V2 of big's extent (shared with the snapshot: references from two roots).
    for objectid, typ, offset, data in all_items:
        if typ == 108 and len(data) == 53 and objectid == os.stat(f"{v}/big").st_ino:
            bytenr = struct.unpack_from("<Q", data, 21)[0]
            raw = container_ioctl(fd, LOGICAL_INO_V2,
                                  lambda size, addr: struct.pack("=QQ3QQQ", bytenr, size, 0, 0, 0, 1, addr))
            cnt = struct.unpack_from("=I", raw, 8)[0]
            write("fuzz_logical_ino", "big-extent-refs", raw[:16 + 8 * cnt])
            break
    os.close(fd)
    print(f"captured; {seeds} item seeds")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        img, mnt = f"{tmp}/img", f"{tmp}/mnt"
        os.mkdir(mnt)
        with open(img, "wb") as f:
            f.truncate(256 << 20)
        # No no-holes feature: sparse files then keep explicit hole extents (disk_bytenr 0).
        subprocess.run(["mkfs.btrfs", "-q", "-O", "^no-holes", img], check=True)
        subprocess.run(["mount", "-o", "loop,compress=zstd,max_inline=2048", img, mnt], check=True)
        try:
            populate(mnt)
            capture(mnt)
        finally:
            subprocess.run(["umount", mnt], check=False)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Source trees of two backed-up "machines" for scripts/gen-backup-dataset.sh.

  backup_dataset.py init   --seed S --scale F --machine a SRC
  backup_dataset.py init   --seed S --scale F --machine b --share-from SRC_A SRC
  backup_dataset.py mutate --seed S --scale F --machine a|b --day N SRC

`init` writes a machine's tree as it is on day 1, `mutate` changes it the way a day of use
would (logs and a database grow, files are edited in place, renamed, deleted, added, data
moves by whole 4 KiB blocks). Every byte, size, name, mode, owner and mtime is derived from
(seed, machine, day, purpose), so the same arguments always give the same trees: rsync's
size+mtime check then makes the same decisions and the backups come out identical.
Data is pseudo-random (incompressible) except the holes of the sparse disk images.
"""
import argparse
import os
import random

KIB = 1024
MIB = 1024 * KIB
PAGE = 4096
BASE_TIME = 1_700_000_000  # day 0 of the dataset (fixed, for deterministic mtimes)
DAY = 86400


class Machine:
    """One source tree plus the deterministic randomness of one (machine, day)."""

    def __init__(self, root, seed, scale, name, day):
        self.root, self.seed, self.scale, self.name, self.day = root, seed, scale, name, day
        # Machine b is backed up an hour after a, so even identical files differ in mtime.
        self.now = BASE_TIME + day * DAY + (3600 if name == "b" else 0)
        self.uid = 1000 if name == "a" else 2000

    def rng(self, purpose):
        # str seeds are hashed with SHA-512 by random.Random: stable across runs and versions.
        return random.Random(f"{self.seed}/{self.name}/{self.day}/{purpose}")

    def n(self, count):  # a count scaled by --scale, at least 1
        return max(1, round(count * self.scale))

    def size(self, nbytes):  # a size scaled by --scale, whole pages, at least one page
        return max(PAGE, round(nbytes * self.scale) // PAGE * PAGE)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, data, mtime=None, uid=None, mode=0o644):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        self.meta(rel, mtime, uid, mode)

    def meta(self, rel, mtime=None, uid=None, mode=None):
        p = self.path(rel)
        u = self.uid if uid is None else uid
        os.chown(p, u, u)
        if mode is not None:
            os.chmod(p, mode)
        t = (self.now if mtime is None else mtime) * 10**9
        os.utime(p, ns=(t, t))

    def touch(self, rel):  # a changed file gets today's mtime, so rsync copies it
        self.meta(rel)

    def files(self, rel_dir):
        """Regular files under rel_dir, relative to the root, sorted (deterministic order)."""
        out = []
        top = self.path(rel_dir)
        for d, dirs, names in os.walk(top):
            dirs.sort()
            for nm in sorted(names):
                full = os.path.join(d, nm)
                if os.path.isfile(full) and not os.path.islink(full):
                    out.append(os.path.relpath(full, self.root))
        return out

    def settle_dirs(self):
        # Directory mtimes would otherwise be "now"; rsync -a copies them.
        for d, _, _ in os.walk(self.root, topdown=False):
            os.utime(d, ns=(self.now * 10**9, self.now * 10**9))


def rand_bytes(r, n):
    return r.randbytes(n) if n > 0 else b""


# ---- pieces of a tree ---------------------------------------------------------------------

def small_files(m, rel_dir, count, purpose):
    """Documents: 30% fit btrfs' 2 KiB inline limit, most are under 16 KiB, a few up to 64 KiB."""
    r = m.rng(purpose)
    for k in range(count):
        x = r.random()
        size = r.randint(1, 2000) if x < 0.3 else r.randint(2049, 16 * KIB) if x < 0.8 else r.randint(16 * KIB, 64 * KIB)
        m.write(f"{rel_dir}/{k // 100:02d}/d{k:05d}.txt", rand_bytes(r, size), mtime=m.now - r.randint(0, 400) * DAY)


def empty_files(m, rel_dir, count):
    for k in range(count):
        m.write(f"{rel_dir}/e{k:02d}", b"", mtime=m.now - k * DAY)


def medium_files(m, rel_dir, count, lo, hi, purpose, ext):
    """Unaligned sizes between lo and hi (scaled), spread over a few sub-directories."""
    r = m.rng(purpose)
    for k in range(count):
        size = r.randint(int(lo * m.scale), max(int(lo * m.scale), int(hi * m.scale)))
        m.write(f"{rel_dir}/g{k % 8}/f{k:04d}.{ext}", rand_bytes(r, size), mtime=m.now - r.randint(1, 900) * DAY)


def grow_log(m, rel, first_size):
    """Appends a day's worth of log (unaligned length); a new log starts at first_size."""
    r = m.rng(f"log:{rel}")
    p = m.path(rel)
    n = int(first_size * m.scale) if first_size else r.randint(int(1 * MIB * m.scale), int(3 * MIB * m.scale))
    n += r.randint(1, PAGE - 1)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "ab") as f:
        f.write(rand_bytes(r, n))
    m.touch(rel)


def rotate_log(m, rel):
    """logrotate: rel -> rel.1 (content and mtime kept: rsync copies it anew under its new name)."""
    if os.path.exists(m.path(rel)):
        os.replace(m.path(rel), m.path(rel + ".1"))


def database(m, rel, first_size):
    """A page-structured file: grows by whole pages at the end, some pages rewritten in place."""
    r = m.rng(f"db:{rel}")
    p = m.path(rel)
    if not os.path.exists(p):
        m.write(rel, rand_bytes(r, m.size(first_size)), mode=0o600, uid=0)
        return
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        for _ in range(24):  # in-place page updates
            f.seek(r.randrange(size // PAGE) * PAGE)
            f.write(rand_bytes(r, PAGE))
        f.seek(size)
        f.write(rand_bytes(r, m.size(1.5 * MIB)))
    m.touch(rel)


def mailbox(m, rel, first_size):
    """An mbox: expunged messages (whole 4 KiB multiples) cut from the middle shift the rest
    by whole blocks, new mail is appended (unaligned)."""
    r = m.rng(f"mbox:{rel}")
    p = m.path(rel)
    if not os.path.exists(p):
        m.write(rel, rand_bytes(r, m.size(first_size) + 1234), mode=0o600)
        return
    with open(p, "rb") as f:
        data = f.read()
    for _ in range(r.randint(1, 3)):
        cut = r.randint(1, 24) * PAGE
        at = r.randrange(max(1, (len(data) - cut) // PAGE)) * PAGE
        data = data[:at] + data[at + cut:]
    data += rand_bytes(r, r.randint(int(0.5 * MIB * m.scale), int(1.5 * MIB * m.scale)))
    m.write(rel, data, mode=0o600)


def disk_image(m, rel, size):
    """A sparse VM image: data in 256 KiB chunks over about 60% of it, holes elsewhere.
    Later days rewrite a few 4 KiB blocks of data and fill one more chunk."""
    r = m.rng(f"img:{rel}")
    p = m.path(rel)
    chunk = 256 * KIB
    if not os.path.exists(p):
        total = max(chunk * 4, m.size(size) // chunk * chunk)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.truncate(total)
            for c in range(total // chunk):
                if r.random() < 0.6:
                    f.seek(c * chunk)
                    f.write(rand_bytes(r, chunk))
        m.meta(rel, uid=0, mode=0o600)
        return
    total = os.path.getsize(p)
    with open(p, "r+b") as f:
        data_pages = data_page_list(f.fileno(), total)
        for _ in range(8):
            f.seek(r.choice(data_pages) * PAGE)
            f.write(rand_bytes(r, PAGE))
        f.seek(r.randrange(total // chunk) * chunk)
        f.write(rand_bytes(r, chunk))
    m.touch(rel)


def data_page_list(fd, size):
    """Page numbers that hold data (SEEK_DATA/SEEK_HOLE), in file order."""
    pages, off = [], 0
    while off < size:
        try:
            start = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        pages.extend(range(start // PAGE, (end + PAGE - 1) // PAGE))
        off = end
    return pages


def churn(m, rel_dir, edits, renames, deletes, adds, block_moves, purpose):
    """A day of work in a directory of files: edits of a few bytes in place, renames,
    deletions, new files, and insertions of whole 4 KiB blocks (the rest shifts by blocks)."""
    r = m.rng(f"churn:{purpose}")
    names = m.files(rel_dir)
    if not names:
        return
    for rel in r.sample(names, min(edits, len(names))):
        size = os.path.getsize(m.path(rel))
        with open(m.path(rel), "r+b") as f:
            for _ in range(r.randint(1, 3)):
                n = r.randint(1, 200)
                f.seek(r.randrange(max(1, size - n)))
                f.write(rand_bytes(r, min(n, size)))
        m.touch(rel)
    names = m.files(rel_dir)
    for rel in r.sample(names, min(renames, len(names))):
        # A move to another folder keeps mtime and content: rsync sees a new file.
        d = os.path.dirname(os.path.dirname(rel))
        new = f"{d}/g{r.randrange(8)}/moved-{m.day:02d}-{os.path.basename(rel)}"
        os.makedirs(os.path.dirname(m.path(new)), exist_ok=True)
        os.replace(m.path(rel), m.path(new))
    names = m.files(rel_dir)
    for rel in r.sample(names, min(deletes, len(names))):
        os.unlink(m.path(rel))
    for k in range(adds):
        size = r.randint(1, 1 * MIB)
        m.write(f"{rel_dir}/g{r.randrange(8)}/new-{m.day:02d}-{k}.bin", rand_bytes(r, size))
    names = m.files(rel_dir)
    big = [n for n in names if os.path.getsize(m.path(n)) >= 64 * KIB]
    for rel in r.sample(big, min(block_moves, len(big))):
        with open(m.path(rel), "rb") as f:
            data = f.read()
        at = r.randrange(len(data) // PAGE) * PAGE
        data = data[:at] + rand_bytes(r, r.randint(1, 7) * PAGE) + data[at:]
        m.write(rel, data)


def churn_docs(m, rel_dir, purpose):
    """Small documents: some rewritten, some deleted, some added."""
    r = m.rng(f"docs:{purpose}")
    names = [n for n in m.files(rel_dir) if os.path.getsize(m.path(n)) > 0]
    for rel in r.sample(names, min(m.n(10), len(names))):
        m.write(rel, rand_bytes(r, r.randint(1, 16 * KIB)))
    names = m.files(rel_dir)
    for rel in r.sample(names, min(m.n(10), len(names))):
        os.unlink(m.path(rel))
    for k in range(m.n(20)):
        m.write(f"{rel_dir}/new/d{m.day:02d}-{k:03d}.txt", rand_bytes(r, r.randint(1, 16 * KIB)))


# ---- the two machines ---------------------------------------------------------------------

def init_a(m):
    small_files(m, "home/docs", m.n(1200), "docs")
    empty_files(m, "home/docs/empty", 30)
    medium_files(m, "home/photos", m.n(40), 256 * KIB, 6 * MIB, "photos", "jpg")
    medium_files(m, "home/projects", m.n(240), 8 * KIB, 1 * MIB, "projects", "bin")
    for rel, size in (("var/log/syslog", 6 * MIB), ("var/log/app.log", 12 * MIB), ("var/log/access.log", 24 * MIB)):
        grow_log(m, rel, size)
    database(m, "var/db/app.db", 40 * MIB)
    mailbox(m, "home/mail/inbox.mbox", 16 * MIB)
    disk_image(m, "vm/disk.img", 16 * MIB)


def mutate_a(m):
    if m.day % 3 == 0:
        rotate_log(m, "var/log/syslog")
    for rel in ("var/log/syslog", "var/log/app.log", "var/log/access.log"):
        grow_log(m, rel, 0)
    database(m, "var/db/app.db", 0)
    mailbox(m, "home/mail/inbox.mbox", 0)
    disk_image(m, "vm/disk.img", 0)
    churn(m, "home/projects", edits=m.n(6), renames=m.n(4), deletes=m.n(3), adds=m.n(5), block_moves=m.n(2), purpose="projects")
    churn_docs(m, "home/docs", "docs")
    medium_files(m, f"home/photos/day{m.day:02d}", 1, 256 * KIB, 6 * MIB, "photos-new", "jpg")


def init_b(m, share_from):
    """About half of a's documents, photos and projects (same bytes, other owner and mtime),
    plus b's own files."""
    r = m.rng("share")
    a = Machine(share_from, m.seed, m.scale, "a", 1)
    for sub in ("home/docs", "home/photos", "home/projects"):
        for rel in a.files(sub):
            if r.random() < 0.5:
                with open(a.path(rel), "rb") as f:
                    data = f.read()
                m.write("srv/share/" + rel[len("home/"):], data, mtime=m.now - r.randint(2, 30) * DAY, mode=0o640)
    small_files(m, "home/notes", m.n(600), "notes")
    empty_files(m, "home/notes/empty", 10)
    for rel, size in (("var/log/messages", 8 * MIB), ("var/log/nginx.log", 16 * MIB)):
        grow_log(m, rel, size)
    database(m, "var/db/b.db", 24 * MIB)
    disk_image(m, "vm/b.img", 24 * MIB)


def mutate_b(m):
    if m.day % 3 == 1:
        rotate_log(m, "var/log/messages")
    for rel in ("var/log/messages", "var/log/nginx.log"):
        grow_log(m, rel, 0)
    database(m, "var/db/b.db", 0)
    disk_image(m, "vm/b.img", 0)
    churn(m, "srv/share/projects", edits=m.n(3), renames=m.n(2), deletes=m.n(2), adds=m.n(2), block_moves=m.n(1), purpose="share")
    churn_docs(m, "home/notes", "notes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("init", "mutate"))
    ap.add_argument("src")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--machine", choices=("a", "b"), required=True)
    ap.add_argument("--day", type=int, default=1)
    ap.add_argument("--share-from")
    args = ap.parse_args()
    os.makedirs(args.src, exist_ok=True)
    m = Machine(args.src, args.seed, args.scale, args.machine, args.day)
    if args.action == "init":
        if args.machine == "a":
            init_a(m)
        else:
            if not args.share_from:
                ap.error("init --machine b needs --share-from SRC_A")
            init_b(m, args.share_from)
    else:
        (mutate_a if args.machine == "a" else mutate_b)(m)
    m.settle_dirs()


if __name__ == "__main__":
    main()

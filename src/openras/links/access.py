"""Whether a user may read a file, decided for a root daemon acting on the user's behalf.

The daemon runs as root and could read anything; it must read a phonebook, profile or key
file only when the calling user could (DESIGN.md §3), or a user could make root disclose or use
another user's files.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path


def groups_of(uid: int) -> set[int]:
    try:
        pw = pwd.getpwuid(uid)
    except KeyError:
        return set()
    return set(os.getgrouplist(pw.pw_name, pw.pw_gid))


def _allowed(
    st: os.stat_result, uid: int, gids: set[int], owner_bit: int, group_bit: int, other_bit: int
) -> bool:
    if st.st_uid == uid:
        return bool(st.st_mode & owner_bit)
    if st.st_gid in gids:
        return bool(st.st_mode & group_bit)
    return bool(st.st_mode & other_bit)


def user_can_read(path: str | os.PathLike[str], uid: int) -> bool:
    """True if ``uid`` could open ``path`` for reading (search permission on every parent too)."""
    if uid == 0:
        return True
    gids = groups_of(uid)
    p = Path(os.path.abspath(path))
    try:
        st = os.stat(p)
    except OSError:
        return False
    if not _allowed(st, uid, gids, stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH):
        return False
    for parent in p.parents:
        try:
            pst = os.stat(parent)
        except OSError:
            return False
        if not _allowed(pst, uid, gids, stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH):
            return False
    return True

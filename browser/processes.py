"""The browser's processes, seen through psutil: found by a marker, measured, ended."""

from __future__ import annotations

import contextlib

import psutil


def find_browser_pid(marker: str) -> int | None:
    """The main Chromium process launched with `marker` among this process's descendants."""
    candidates = {}
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if marker in proc.cmdline():
                candidates[proc.pid] = proc.ppid()
    roots = [pid for pid, parent in candidates.items() if parent not in candidates]
    return roots[0] if roots else None


def process_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def process_tree(pid: int | None) -> list[psutil.Process]:
    if not pid:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss_mb(pid: int | None) -> float:
    """Memory of a browser and all its helper processes, in MB: the sum of their PSS (proportional set size,
    each shared page split between the processes that share it). Summing plain RSS would count Chromium's
    shared memory once per process: about 900 MB for a trivial page where PSS says 290 MB."""
    total = 0
    for proc in process_tree(pid):
        try:
            info = proc.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.AccessDenied:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total / (1024 * 1024)


def kill_process_tree(pid: int | None) -> None:
    for proc in reversed(process_tree(pid)):
        with contextlib.suppress(psutil.Error):
            proc.kill()

"""Can a window be opened here? Asked before OpenCV tries, because its Qt build aborts the whole process
(exit 134, no exception to catch) when DISPLAY names an X server that does not answer, a common state
over SSH, in containers and after a desktop session has ended.

On Linux and the BSDs OpenCV's window is an X11 client, so DISPLAY is tried the way Qt tries it: with
libxcb, in a thread, given `TIMEOUT_S` to answer (a remote display may never answer). Without libxcb
(a machine with no X libraries at all) Qt could not load either. Under Wayland, OpenCV's Qt window needs
XWayland, that is DISPLAY too; a GTK build of OpenCV can use Wayland itself. Windows and macOS always
have a screen for a desktop program.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from collections.abc import Mapping
from functools import lru_cache

TIMEOUT_S = 3.0


@lru_cache(maxsize=1)
def _xcb() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("xcb")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.xcb_connect.restype = ctypes.c_void_p
    lib.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    lib.xcb_connection_has_error.restype = ctypes.c_int
    lib.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    lib.xcb_disconnect.argtypes = [ctypes.c_void_p]
    return lib


def x_server_answers(display: str, timeout: float = TIMEOUT_S) -> bool | None:
    """True when the X server `display` names accepts a connection, False when it does not (or not within
    `timeout` seconds), None when that cannot be told (no libxcb here)."""
    lib = _xcb()
    if lib is None:
        return None
    answer: list[bool] = []

    def connect() -> None:
        conn = lib.xcb_connect(display.encode(), None)
        answer.append(bool(conn) and lib.xcb_connection_has_error(conn) == 0)
        if conn:
            lib.xcb_disconnect(conn)

    thread = threading.Thread(target=connect, name="display-check", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


@lru_cache(maxsize=1)
def opencv_gui() -> str:
    """The GUI toolkit OpenCV was built with ("QT5", "GTK3", "WIN32UI", "COCOA", "NONE", ...)."""
    import cv2

    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return line.split(":", 1)[1].strip().upper() or "NONE"
    return "NONE"


def screen_problem(env: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why no window can be opened here (one line, for the user), or None when one can."""
    env = os.environ if env is None else env
    platform = platform or sys.platform
    if platform.startswith(("win", "cygwin", "darwin")):
        return None
    if "NONE" in opencv_gui():
        return "this OpenCV has no window support (opencv-python-headless?)"
    display, wayland = env.get("DISPLAY", ""), env.get("WAYLAND_DISPLAY", "")
    if not display:
        if wayland and "GTK" in opencv_gui():
            return None
        if wayland:
            return "WAYLAND_DISPLAY is set, but OpenCV's Qt window needs X11 (XWayland) and DISPLAY is not set"
        return "no screen (DISPLAY is not set)"
    answers = x_server_answers(display)
    if answers is False:
        return f"DISPLAY={display} is set but no X server answers there"
    if answers is None and "QT" in opencv_gui():
        return f"DISPLAY={display} is set but libxcb, which OpenCV's Qt window needs, is not installed"
    return None

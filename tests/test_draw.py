"""What the window draws: sizes that follow the frame, the debug panel outside the video, the pause mark."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.draw import LABEL_LEAST, RED, Hud, annotate, label_size, paused, text_scale, with_debug
from realtime.measure.scene import FontDigits, make_scene
from realtime.pipeline import Digit, FrameResult


def scene(reader, w: int, h: int, seed: int = 4):
    image = make_scene(np.random.default_rng(seed), FontDigits(), 5, size=(w, h)).image
    return image, reader.read(image, still=True)


def hud_height(img: np.ndarray) -> int:
    """Rows of the black HUD bar at the bottom of an annotated frame (its left edge is black, the paper not)."""
    edge_black = (img[:, :3] == 0).all(axis=(1, 2))
    return int(np.argmin(edge_black[::-1]))


def white_rows(img: np.ndarray) -> int:
    """Rows of the top eighth with white text in them (the "read:" lines)."""
    white = (img[: img.shape[0] // 8] > 250).all(axis=2)
    return int(white.any(axis=1).sum())


@pytest.mark.parametrize("w, h", [(1280, 720), (1920, 1080)])
def test_text_and_hud_grow_with_the_frame(reader, w, h):
    small_img, small = scene(reader, 640, 480)
    big_img, big = scene(reader, w, h)
    hud = Hud(30.0, {"detect": 1.0, "classify": 0.2}, "sparse", 0.32)
    a = annotate(small_img, small, hud)
    b = annotate(big_img, big, hud)
    ratio = hud_height(b) / hud_height(a)
    # the same share of the frame, so as legible once the window has scaled a large frame down to the screen
    assert ratio == pytest.approx(h / 480, rel=0.15), ratio
    assert white_rows(b) / white_rows(a) == pytest.approx(h / 480, rel=0.3)


def test_the_debug_panel_goes_below_the_video_and_covers_nothing(reader):
    image, result = scene(reader, 640, 480)
    annotated = annotate(image, result, Hud())
    shown = with_debug(annotated, result)
    assert shown.shape[1] == 640 and shown.shape[0] > 480 + 56
    assert np.array_equal(shown[:480], annotated), "the video is shown whole, nothing drawn over it"
    panel = shown[480:]
    assert (panel[:, :300] > 200).any(), "the 28x28 images the network saw, bright ink on black"
    mask_corner = panel[10:100, -150:]
    assert (mask_corner < 20).mean() > 0.5, "the threshold mask (mostly black) at the right"


def test_paused_is_marked_without_covering_the_middle_of_the_frame(reader):
    image, result = scene(reader, 640, 480)
    annotated = annotate(image, result, Hud())
    before = annotated.copy()
    marked = paused(annotated)
    assert np.array_equal(annotated, before), "a copy is marked; the frame itself stays clean for snapshots"
    red = np.all(marked == RED, axis=2)
    assert red[:, :3].all() and red[:, -3:].all() and red[:3].all() and red[-3:].all(), "a red border"
    assert red[5:60, -200:].mean() > 0.5, "the label at the top right"
    assert np.array_equal(marked[100:380, 50:590], annotated[100:380, 50:590])


def _result(boxes: list[tuple[int, int, int, int]], lines: list[str]) -> FrameResult:
    digits = [Digit(b, 7, 0.97, np.full(10, 0.1, np.float32), np.zeros((28, 28), np.float32)) for b in boxes]
    return FrameResult(digits, lines, {})


def test_the_numbers_read_go_where_they_cover_no_digit():
    """A sheet held with its numbers at the top left: the read-out moves to a free corner instead of
    covering them; with the top left free it stays there."""
    paper = np.full((480, 640, 3), 200, np.uint8)
    top_left = [(20 + 40 * k, 40, 30, 50) for k in range(6)]
    shown = annotate(paper, _result(top_left, ["777777", "77"]), Hud())
    white = (shown > 250).all(axis=2)
    assert not any(white[y : y + h, x : x + w].any() for x, y, w, h in top_left)
    assert white[:120, 320:].any(), "at the top right instead"
    elsewhere = [(300, 300, 30, 50)]
    shown = annotate(paper, _result(elsewhere, ["7"]), Hud())
    assert (shown[:60, :200] > 250).all(axis=2).any(), "top left, where it always was"


def test_labels_of_small_close_digits_are_smaller_than_a_big_digits():
    """A digit's label shrinks with the digit (not below a legible size), so that a row of small digits
    set close does not have its labels run into one another; a big digit keeps the frame's size."""
    s = text_scale((1080, 1920))
    small, big = label_size("7 97%", 14, 20, s), label_size("7 97%", 200, 300, s)
    assert big == pytest.approx(0.6 * s) and small < 0.6 * big and small >= LABEL_LEAST * s

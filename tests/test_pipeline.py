"""The frame pipeline: detection on paper under uneven light, splitting touching digits, reading lines."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime import ink
from realtime.detect import Candidate, DetectConfig, _merge_pieces, _on_a_step, darkness_map, detect, join
from realtime.ink import (
    GROW_SHARE,
    MAX_GAIN,
    darkness,
    find_ink,
    grown,
    ink_channel,
    paper_balance,
    paper_map,
    remove_lines,
    the_sheet,
    without_bands,
    without_shade,
)
from realtime.measure.scene import MnistDigits, make_scene
from realtime.pipeline import NOT_A_DIGIT, _in_words, _lettered, _numbered
from realtime.score import match
from realtime.track import Tracker, group_rows, read_lines, row_slope


def paper_with(digits: list[np.ndarray], size=(640, 480), light=(1.0, 1.0), gap=30, height=80) -> np.ndarray:
    """Dark digits (ink images in [0, 1], `height` px tall) on paper lit from left to right by `light`."""
    w, h = size
    page = np.full((h, w), 220, np.float32) * np.linspace(light[0], light[1], w, dtype=np.float32)[None, :]
    x = 60
    for d in digits:
        g = cv2.resize(d, (int(d.shape[1] * height / d.shape[0]), height), interpolation=cv2.INTER_CUBIC)
        page[200 : 200 + height, x : x + g.shape[1]] *= 1 - 0.85 * np.clip(g, 0, 1)
        x += g.shape[1] + gap
    return np.clip(page, 0, 255).astype(np.uint8)


def mnist_digit(mnist, label: int, k: int = 0) -> np.ndarray:
    idx = np.flatnonzero(mnist.test_y.numpy() == label)[k]
    img = mnist.test_x[idx].numpy().astype(np.float32) / 255
    rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
    return img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def test_darkness_is_the_same_under_bright_and_dim_light(mnist):
    d = mnist_digit(mnist, 3)
    bright = darkness_map(paper_with([d], light=(1.0, 1.0)))
    dim = darkness_map(paper_with([d], light=(0.45, 0.45)))
    region = (slice(200, 280), slice(60, 140))
    assert np.abs(bright[region].astype(int) - dim[region].astype(int)).mean() < 6


def test_a_sheet_smaller_than_the_frame_is_found_and_a_page_a_shadow_or_chalk_is_none():
    """ink.the_sheet: a note on a dark desk, a fifth of the frame, is the sheet (its colour, grain and
    paper are the note's, not the desk's); a page filling the frame with the desk at a corner, a page
    under a hard shadow that keeps 40 % of the light over most of it, and chalk on a dark board (bright
    strokes, no bright surface) are no sheet of their own: None, the frame's statistics as they are."""
    rng = np.random.default_rng(0)
    desk = np.clip(rng.normal(40, 6, (120, 160)), 0, 255).astype(np.uint8)
    note = desk.copy()
    note[30:80, 50:130] = 210
    note[45:60, 60:64] = 60  # a stroke written on it
    sheet = the_sheet(note)
    assert sheet is not None
    assert sheet[30:80, 50:130].mean() > 0.95 and not sheet[:25].any() and not sheet[:, :45].any()
    page = np.full((120, 160), 210, np.uint8)
    page[:30, :30] = 40  # the desk at a corner
    assert the_sheet(page) is None
    shadow = page.copy()
    shadow[:, 40:] = 84  # a hard shadow over three quarters of the frame, 40 % of the light
    assert the_sheet(shadow) is None
    board = desk.copy()
    for x in range(20, 150, 25):
        board[40:90, x : x + 3] = 230  # chalk strokes, 3 px of 160 wide
    assert the_sheet(board) is None


def test_a_sheet_on_a_desk_brighter_than_a_shadow_is_told_by_its_colour():
    """ink.the_sheet on colour: a yellow note on a grey desk at 45 % of its brightness (brighter than
    any hard shadow leaves, so brightness alone cannot tell it) is the sheet, by the desk's other colour
    all around its sharp outline; white paper under a hard shadow keeping 45 % of the light, same
    colour, is not; nor is a yellow card under a pool of light that fades softly over the frame."""
    rng = np.random.default_rng(0)
    grain = rng.normal(1.0, 0.03, (60, 80, 1))
    yellow, grey = np.array([120, 200, 215.0]), np.array([97, 97, 97.0])
    note = np.broadcast_to(grey, (60, 80, 3)).copy()
    note[15:40, 25:65] = yellow
    note[22:30, 30:32] = (150, 60, 40)  # blue ink on it
    sheet = the_sheet(np.clip(note * grain, 0, 255).astype(np.uint8))
    assert sheet is not None
    assert sheet[15:40, 25:65].mean() > 0.9 and not sheet[:12].any() and not sheet[:, :22].any()
    white = np.array([205, 210, 215.0])
    shadow = np.broadcast_to(white, (60, 80, 3)).copy()
    shadow[:, 25:] *= 0.45  # three quarters of the page in a hard shadow
    assert the_sheet(np.clip(shadow * grain, 0, 255).astype(np.uint8)) is None
    yy, xx = np.mgrid[:60, :80]
    pool = np.exp(-((yy - 30.0) ** 2 + (xx - 40.0) ** 2) / (2 * 15.0**2))[..., None]
    card = yellow * (0.35 + 0.65 * pool)
    assert the_sheet(np.clip(card * grain, 0, 255).astype(np.uint8)) is None


@pytest.mark.parametrize("paper", [50, 70])
def test_a_sheet_held_up_before_a_bright_window_is_read(mnist, reader, paper):
    """A sheet held up in a dim room (grey 50 or 70) with a window behind it (255, a sixth of the
    frame): the window is the frame's small bright part, and taken for a sheet on a desk it made the
    real sheet the desk, its digits judged against the window's paper and lost. A small bright part
    is a sheet only if the writing is on it (ink.measure_scale): the four digits are read."""
    frame = np.full((480, 640), 30, np.float32)
    frame[0:200, 380:640] = 255
    frame[180:460, 60:420] = paper
    x = 90
    for c in (3, 5, 7, 2):
        d = mnist_digit(mnist, c)
        g = cv2.resize(d, (int(d.shape[1] * 60 / d.shape[0]), 60), interpolation=cv2.INTER_AREA)
        frame[280:340, x : x + g.shape[1]] *= 1 - 0.8 * g
        x += g.shape[1] + 25
    noisy = frame + np.random.default_rng(0).normal(0, 2, frame.shape)
    res = reader.read(cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR), still=True)
    assert [d.digit for d in res.digits] == [3, 5, 7, 2], [(d.symbol, d.box) for d in res.digits]


def test_the_ink_image_takes_the_papers_colour_as_grey():
    """On brown cardboard the darkest channel is the paper's, not the ink's: balanced, the paper is as
    bright in every channel as in its brightest, so a grey pen is as dark against it in all three; blue
    ink on a yellow note is still as dark in the channel it absorbs. White paper, grey or under a warm
    light (PAPER_TINT), is left as it is, a red pen on it as dark as it was; a channel the paper hardly
    reflects is brightened at most MAX_GAIN times."""
    rng = np.random.default_rng(0)
    brown = np.array([68, 107, 132], np.float32)
    texture = rng.normal(1.0, 0.05, (240, 320, 1)).astype(np.float32)
    frame = np.clip(brown * texture, 0, 255).astype(np.uint8)
    frame[100:140, 150:154] = (brown * 0.5).astype(np.uint8)  # a grey pen's stroke
    gain = paper_balance(frame)
    assert gain is not None
    balanced = cv2.transform(frame, gain)
    paper = np.median(balanced[:, :100].reshape(-1, 3), axis=0)
    assert paper.max() - paper.min() <= 2, paper
    ink = ink_channel(frame, gain)
    assert abs(float(np.median(ink[:, :100])) - 132) <= 2  # the paper at its brightest channel's level
    assert abs(float(np.median(ink[105:135, 151:153])) - 66) <= 3  # the stroke half as bright in every channel
    white = np.full((240, 320, 3), 230, np.uint8)
    white[100:140, 150:154] = (60, 60, 220)  # red ink (BGR)
    assert paper_balance(white) is None
    assert int(ink_channel(white)[120, 151]) == 60
    assert paper_balance(np.full((240, 320, 3), (190, 205, 215), np.uint8)) is None  # white under a warm light
    note = np.full((240, 320, 3), (120, 200, 215), np.uint8)  # a yellow sticky note
    note[100:140, 150:154] = (150, 60, 40)  # blue ink
    assert abs(int(ink_channel(note, paper_balance(note))[120, 151]) - 40) <= 1  # still dark in red
    assert abs(int(ink_channel(note, paper_balance(note))[50, 50]) - 215) <= 1
    assert paper_balance(np.full((240, 320, 3), (10, 180, 200), np.uint8))[0, 0] == pytest.approx(MAX_GAIN)


def test_ink_channel_is_each_pixels_darkest_channel_at_any_size():
    """The ink image is the per-pixel minimum of the three channels (and the sheet's brightness their
    maximum), exactly, for frames of odd sizes and views that are not contiguous."""
    rng = np.random.default_rng(3)
    for h, w in ((1, 1), (7, 13), (480, 640), (121, 333)):
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        assert np.array_equal(ink_channel(frame), frame.min(axis=2))
        assert np.array_equal(ink._brightest(frame), frame.max(axis=2))
    view = rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)[::2, 1::3]
    assert np.array_equal(ink_channel(view), view.min(axis=2))


def test_the_ink_grows_into_a_strokes_faint_part_and_not_into_whole_strokes_rims():
    """A stroke whose middle is a little fainter than the mask asks (between GROW_SHARE of the
    threshold and the threshold) falls apart in the mask; grown near it (by a stroke's width from each
    side), it is one shape again. Near whole strokes, growing adds only their rims: nothing to read
    again (None)."""
    def frame(faint: int | None = None) -> np.ndarray:
        img = np.full((240, 320), 215, np.uint8)
        for x in (40, 100, 160, 220):  # four dark strokes set the writing's scale and darkness
            cv2.line(img, (x, 80), (x + 12, 160), 60, 4)
            cv2.line(img, (x + 12, 160), (x + 30, 160), 60, 4)
        if faint is not None:  # a fifth, whose middle (8 px between the dark parts' round ends) is faint
            cv2.line(img, (280, 118), (280, 130), faint, 4)
            cv2.line(img, (280, 80), (280, 118), 60, 4)
            cv2.line(img, (280, 130), (280, 160), 60, 4)
        return img

    cfg = DetectConfig()
    low = find_ink(frame(), cfg.threshold, cfg.low_ratio).low
    between = (GROW_SHARE + 1) / 2 * low / 255  # the faint part's darkness, in the grown band
    ink = find_ink(frame(round(215 * (1 - between))), cfg.threshold, cfg.low_ratio)
    assert ink.low == low and ink.level == 0
    pieces = cv2.connectedComponents(ink.mask)[0] - 1
    assert pieces == 6  # the four strokes, and the fifth in two
    more = grown(ink, [(270, 78, 22, 84)])
    assert more is not None and cv2.connectedComponents(more.mask)[0] - 1 == 5
    assert grown(ink, [(35, 78, 40, 86)]) is None


def test_on_blotchy_paper_faint_rings_are_carried_on_along_their_ridges(monkeypatch):
    """Paper with blotches as dark as faint ink (cardboard's), and five rings with two faint arcs each,
    fainter than the threshold the blotches set: in the mask most rings fall into two or three pieces.
    Followed along the darkness's ridges (ink.along_ridges), every ring is one shape, and the blotches
    are not grown into more shapes."""
    rng = np.random.default_rng(0)
    H, W = 480, 640
    blotches = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 2.5)
    img = 190 + blotches * 9 / blotches.std()
    yy, xx = np.mgrid[:H, :W]
    centres = [(200, 200), (300, 200), (400, 200), (250, 300), (350, 300)]
    for k, (cx, cy) in enumerate(centres):
        ring = np.zeros((H, W), np.uint8)
        cv2.ellipse(ring, (cx, cy), (14, 22), 0, 0, 360, 255, 2, cv2.LINE_AA)
        turn = (np.degrees(np.arctan2(yy - cy, xx - cx)) + 60 * k) % 360
        img -= ring / 255 * np.where(turn % 180 < 60, 40, 75)  # two faint arcs, turning from ring to ring
    frame = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)

    def pieces(found) -> list[int]:  # each ring's shapes (of 3 pixels or more)
        f = 2**found.level
        out = []
        for cx, cy in centres:
            window = found.mask[(cy - 30) // f : (cy + 31) // f, (cx - 22) // f : (cx + 23) // f]
            out.append(int((cv2.connectedComponentsWithStats(window)[2][1:, cv2.CC_STAT_AREA] >= 3).sum()))
        return out

    cfg = DetectConfig()
    followed = find_ink(frame, cfg.threshold, cfg.low_ratio)
    monkeypatch.setattr(ink, "along_ridges", lambda mask, labelled, *rest: (mask, labelled))
    plain = find_ink(frame, cfg.threshold, cfg.low_ratio)
    assert plain.low == followed.low and sum(n >= 2 for n in pieces(plain)) >= 4
    assert pieces(followed) == [1] * 5
    shapes = [cv2.connectedComponents(m)[0] - 1 for m in (plain.mask, followed.mask)]
    assert shapes[1] <= shapes[0]


def test_reads_a_number_across_a_lighting_gradient(mnist, reader):
    digits = [mnist_digit(mnist, c) for c in (2, 0, 2, 6)]
    frame = paper_with(digits, light=(1.0, 0.35))
    res = reader.read(frame, still=True)
    assert [d.digit for d in res.digits] == [2, 0, 2, 6]
    assert res.lines == ["2026"]


def test_sensor_noise_in_dim_light_is_not_read_as_digits(mnist, reader):
    """A dim room: the paper at a third of its brightness and strong sensor noise. Relative to such
    dark paper the grain is as dark as faint ink; only the noise-aware floor keeps it out."""
    digits = [mnist_digit(mnist, c) for c in (3, 9, 4)]
    frame = paper_with(digits, light=(0.35, 0.3)).astype(np.float32)
    frame = np.clip(frame + np.random.default_rng(0).normal(0, 10, frame.shape), 0, 255).astype(np.uint8)
    res = reader.read(frame, still=True)
    assert [d.digit for d in res.digits] == [3, 9, 4]


def test_a_shattered_digit_does_not_hide_the_digits_beside_it(mnist):
    """A blotchy stroke in a shadow can break into many pieces. Shapes far taller than the frame's
    typical digit are rejected (rules, shadow edges); the pieces must not make that typical height."""
    frame = paper_with([mnist_digit(mnist, 8), mnist_digit(mnist, 3), mnist_digit(mnist, 0)], gap=60)
    first = frame[200:280, 60:130]
    for r in range(0, 80, 20):
        first[r : r + 3, :] = 220
    for c in range(0, 70, 12):
        first[:, c : c + 3] = 220
    boxes = [c.box for c in detect(frame).candidates]
    assert any(x >= 200 and h >= 70 for x, _, _, h in boxes), boxes  # the 3
    assert any(x >= 340 and h >= 70 for x, _, _, h in boxes), boxes  # the 0


def test_a_digit_is_not_split_into_parts_that_cover_each_other():
    """A wide 5 cut along its stroke gives two parts that each look like a confident 5 but share most
    of their columns; two digits side by side do not. The whole must win in the first case only."""
    from realtime.pipeline import Reader

    probs = np.full((3, 10), 0.001, np.float32)
    probs[0, 5], probs[1, 5], probs[2, 5] = 0.85, 0.99, 0.99  # whole, left part, right part
    whole = (0, 0, 64, 50)
    for parts, split_wins in ((((0, 0, 39, 46), (12, 0, 52, 50)), False), (((0, 0, 30, 50), (34, 0, 30, 50)), True)):
        boxes = [whole, *parts]
        one, two = (Reader._score(idx, boxes, probs, expected=1.8) for idx in ([0], [1, 2]))
        assert (two > one) == split_wins, (parts, one, two)


def test_touching_digits_are_split_by_the_classifier(mnist, reader):
    digits = [mnist_digit(mnist, c, 1) for c in (4, 7, 5)]
    frame = paper_with(digits, gap=-4)  # overlapping by 4 px: one connected shape
    det = detect(frame)
    assert len(det.candidates) < 3  # the shapes really touch
    res = reader.read(frame, still=True)
    assert [d.digit for d in res.digits] == [4, 7, 5]


def test_touching_digits_on_a_sheet_held_at_an_angle_are_cut_across_its_rows(mnist, reader):
    """A row of digits, three pairs of them touching, the sheet turned 20 degrees either way. A turned
    pair's box is as tall as it is wide, no wider than one digit's for its height, and a cut down the
    frame's columns goes through both digits: "47" and "52" were read as one doubtful shape or
    not at all (in 2 of the 12 rows below). The rows' slope is taken from the shapes before any cut
    (track.row_slope), the shapes are measured along and across the rows (detect.level_size), and the
    cuts run at right angles to the rows, leaning with the writing (detect.propose_cuts). Margin: 8
    of the 12 rows read with both pairs (9 now)."""

    def row(k: int, degrees: float) -> np.ndarray:
        page = np.full((480, 900), 220, np.float32)
        x = 40
        for label, gap in zip((3, 4, 7, 5, 2, 8, 0, 6), (30, -4, 30, -4, 30, 30, -4, 30)):  # -4: touching
            d = mnist_digit(mnist, label, k)
            g = cv2.resize(d, (int(d.shape[1] * 60 / d.shape[0]), 60), interpolation=cv2.INTER_CUBIC)
            page[200 : 200 + 60, x : x + g.shape[1]] *= 1 - 0.85 * np.clip(g, 0, 1)
            x += g.shape[1] + gap
        turn = cv2.getRotationMatrix2D((450, 240), degrees, 0.8)
        return np.clip(cv2.warpAffine(page, turn, (900, 480), borderValue=220), 0, 255).astype(np.uint8)

    read = {(k, degrees): "".join(d.symbol for d in reader.read(row(k, degrees), still=True).digits)
            for k in range(6) for degrees in (20, -20)}
    assert sum("4752" in r for r in read.values()) >= 8, read


def test_a_paper_edge_touching_the_frame_border_is_not_a_digit(mnist, reader):
    frame = paper_with([mnist_digit(mnist, 8)])
    frame[:, :40] = 30  # the table beyond the sheet
    frame[440:, :] = 30
    res = reader.read(frame, still=True)
    assert [d.digit for d in res.digits] == [8]


def test_light_writing_on_a_dark_board_is_recognised_by_itself(mnist, reader):
    frame = 255 - paper_with([mnist_digit(mnist, 5), mnist_digit(mnist, 1)])
    res = reader.read(frame, still=True)
    assert [d.digit for d in res.digits] == [5, 1] and res.detection.light_on_dark
    reader.config = DetectConfig(light_on_dark=False)  # the override, forced the wrong way, reads nothing right
    assert [d.digit for d in reader.read(frame, still=True).digits] != [5, 1]
    page = paper_with([mnist_digit(mnist, 5), mnist_digit(mnist, 1)])
    reader.config = DetectConfig()
    assert not reader.read(page, still=True).detection.light_on_dark


def test_generated_scenes_meet_the_detection_and_reading_targets(mnist, reader):
    rng = np.random.default_rng(11)
    src = MnistDigits(mnist.test_x.numpy(), mnist.test_y.numpy())
    truth = found = boxes = right = 0
    for _ in range(60):
        sc = make_scene(rng, src)
        res = reader.read(sc.image, still=True)
        pairs = match([d.box for d in res.digits], [t.box for t in sc.digits])
        truth += len(sc.digits)
        boxes += len(res.digits)
        found += len(pairs)
        right += sum(res.digits[i].digit == sc.digits[j].digit for i, j in pairs)
    assert found / truth >= 0.98 and found / boxes >= 0.97 and right / truth >= 0.96, (truth, found, boxes, right)


def test_tracker_smooths_a_flickering_reading():
    tracker = Tracker()
    box = [(100, 100, 40, 60)]
    labels = []
    for k in range(20):
        p = np.full((1, 10), 0.01, np.float32)
        p[0, 7], p[0, 1] = (0.55, 0.36) if k % 3 else (0.36, 0.55)  # every third frame the raw answer flips
        ids, smoothed = tracker.update(box, p)
        labels.append(int(smoothed[0].argmax()))
        assert ids == [0]
    assert labels[9:] == [7] * 11  # after a short transient, one steady answer
    ids, _ = tracker.update([(400, 300, 40, 60)], np.full((1, 10), 0.1, np.float32))
    assert ids == [1]  # a box elsewhere is a new digit


@pytest.mark.parametrize("boxes, text, expected", [
    ([(0, 0, 30, 50), (40, 0, 30, 50), (80, 0, 30, 50), (120, 0, 30, 50)], "2026", ["2026"]),
    ([(0, 0, 30, 50), (35, 0, 30, 50), (110, 0, 30, 50), (145, 0, 30, 50)], "1415", ["14 15"]),
    ([(0, 100, 30, 50), (40, 110, 30, 50), (0, 0, 30, 50), (40, 5, 30, 50)], "3412", ["12", "34"]),
    # a narrow "1" leaves wide gaps on both sides, but the digits' centres are evenly spaced: one number
    ([(0, 0, 30, 40), (40, 0, 30, 40), (92, 0, 6, 40), (120, 0, 30, 40)], "2016", ["2016"]),
])
def test_digits_group_into_lines_and_numbers(boxes, text, expected):
    assert read_lines(boxes, list(text)) == expected


@pytest.mark.parametrize("label", [3, 7])
def test_one_big_digit_with_a_shadow_reaching_the_border_is_read(mnist, reader, label):
    """One digit held up close, a hand's shadow across it from the frame's edge: the shadow joins the
    digit at the low threshold and carries it to the border. It is parted from the ink (ink is much
    darker than shade), so the digit is read, with a box around its ink only."""
    ink = mnist_digit(mnist, label)
    g = cv2.resize(ink, (int(ink.shape[1] * 380 / ink.shape[0]), 380), interpolation=cv2.INTER_CUBIC)
    page = np.full((480, 640), 215, np.float32)
    x0, y0 = 320 - g.shape[1] // 2, 50
    page[y0 : y0 + 380, x0 : x0 + g.shape[1]] *= 1 - 0.85 * np.clip(g, 0, 1)
    shadow = np.zeros((480, 640), np.uint8)  # a wedge from the top edge down across the digit
    cv2.fillPoly(shadow, [np.array([[150, 0], [260, 0], [420, 479], [330, 479]], np.int32)], 1)
    page *= np.where(shadow > 0, 0.68, 1.0).astype(np.float32)
    res = reader.read(np.clip(page, 0, 255).astype(np.uint8), still=True)
    assert [d.digit for d in res.digits] == [label]
    bx, by, bw, bh = res.digits[0].box
    assert by >= y0 - 10 and by + bh <= y0 + 390  # the shadow's length is not in the box


@pytest.mark.parametrize("label", [3, 7])
def test_one_big_digit_under_a_shadow_clear_of_the_border_is_read(mnist, reader, label):
    """One digit held up close, written with a thin pen, under the soft shadow of something held over
    the sheet that does not reach the frame's edge: with the paper estimate as wide as a big digit
    needs, the shadow is "ink" and joins the digit into one blot. Its faint part is parted from the
    ink, so the digit is read, with a box around its ink only."""
    ink = mnist_digit(mnist, label)
    g = cv2.resize(ink, (int(ink.shape[1] * 340 / ink.shape[0]), 340), interpolation=cv2.INTER_CUBIC)
    g = cv2.erode(g, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (33, 33)))  # a thin pen's strokes
    rows, cols = np.flatnonzero(g.max(1) > 0.1), np.flatnonzero(g.max(0) > 0.1)  # its ink
    page = np.full((480, 640), 210, np.float32)
    x0, y0 = 320 - g.shape[1] // 2, 70
    page[y0 : y0 + 340, x0 : x0 + g.shape[1]] *= 1 - 0.8 * np.clip(g, 0, 1)
    shadow = np.zeros((480, 640), np.float32)  # a wedge over the digit, narrower than the paper estimate
    cv2.fillConvexPoly(shadow, np.array([[230, 160], [330, 120], [420, 300], [320, 340]], np.int32), 1.0)
    page *= 1 - 0.3 * cv2.GaussianBlur(shadow, (0, 0), 3)
    res = reader.read(np.clip(page, 0, 255).astype(np.uint8), still=True)
    assert [d.digit for d in res.digits] == [label]
    bx, by, bw, bh = res.digits[0].box
    assert x0 + cols[0] - 8 <= bx and bx + bw <= x0 + cols[-1] + 8
    assert y0 + rows[0] - 8 <= by and by + bh <= y0 + rows[-1] + 8


@pytest.mark.parametrize("blot", [False, True])
def test_a_blot_at_the_border_is_no_piece_of_a_digit_clear_of_it(blot):
    """A short piece over a digit joins it (a 5's flag) even where it reaches the frame's border; a
    blot there (a shadow's corner, fewer than a few stroke widths tall) does not: it would carry
    the digit to the border, where it is not read."""
    boxes = [[100, 100, 60, 100], [110, 75, 40, 20]]  # the digit, and above it the piece
    members, edge = [[1], [2]], [False, True]
    _merge_pieces(boxes, members, edge, 100.0, [False, blot])
    assert (len(boxes) == 2) == blot
    assert edge[0] is (not blot)


def test_the_dark_side_of_a_step_in_the_light_is_no_1_and_ink_along_it_is():
    """A narrow shape along a step in the light (the sheet's edge, a hard shadow's) that is no darker
    than the dark side is that side; a "1" written along the same edge is ink, far darker; and a
    "1" on even paper has no step beside it."""
    gray = np.full((100, 100), 200, np.uint8)
    gray[:, 50:] = 110  # a shadow from x = 50 on
    labels = np.zeros((100, 100), np.int32)
    labels[20:80, 50:56] = 1  # the shadow's first columns, taken for a stroke (the paper estimate lags)
    box = [50, 20, 6, 60]
    assert _on_a_step(gray, labels, [1], box)
    gray[20:80, 50:56] = 35  # ink written along the edge
    assert not _on_a_step(gray, labels, [1], box)
    even = np.full((100, 100), 200, np.uint8)
    even[20:80, 50:56] = 110  # a faint "1" on even paper
    assert not _on_a_step(even, labels, [1], box)


def test_a_straight_band_of_shade_goes_and_the_ink_across_it_and_a_blot_stay():
    """A ruler's shadow: a straight band across the frame, darker than the pencil writing, with a
    stroke written across it (darker still): the band goes, the stroke stays whole. A blotch as wide
    but not long and straight stays: it is not a band."""
    mask = np.zeros((240, 320), np.uint8)
    dark = np.zeros((240, 320), np.uint8)
    cv2.line(mask, (0, 20), (319, 220), 255, 30)  # the band, 30 px wide
    dark[mask > 0] = 100
    cv2.line(mask, (150, 60), (150, 180), 255, 3)  # a pencil stroke across it ...
    dark[60:181, 149:152] = 60
    cv2.line(dark, (150, 60), (150, 180), 160, 3)  # ... darker than the band where it crosses it
    cv2.circle(mask, (60, 200), 20, 255, -1)  # a blotch
    dark[(mask > 0) & (dark == 0)] = 100
    out, _ = without_bands(mask, dark, None, stroke=3.0, writing=60.0)
    assert not out[120, 200] and not out[60, 70]  # the band's inside
    assert out[60:181, 150].all()  # the stroke, on the band and off it
    assert out[200, 60] and out[185, 60]  # the blotch
    assert np.array_equal(without_bands(mask, dark, None, stroke=0.0, writing=60.0)[0], mask)


def test_a_mostly_faint_blot_loses_its_shade_and_a_blurred_stroke_keeps_its_rim():
    """Clear of the border: a wide shade with a stroke across it keeps the stroke only; a thin
    stroke whose soft rim outnumbers its dark core (out of focus) stays whole; and with the
    writing's darkness known, a shade at the border with no stroke in it goes."""
    dark = np.zeros((80, 80), np.uint8)
    dark[10:40, 10:40] = 70  # a shade ...
    dark[24:27, 5:45] = 200  # ... a stroke across it
    dark[50:75, 60:63] = 200  # a blurred stroke: a dark core with a wide faint rim
    dark[50:75, 56:60] = 60
    dark[50:75, 63:67] = 60
    mask = np.where(dark > 0, 255, 0).astype(np.uint8)
    out = without_shade(mask, dark)[0]
    assert out[24:27, 5:45].all() and not out[10:22, 10:40].any() and not out[29:40, 10:40].any()
    assert out[50:75, 56:67].all()
    corner = np.zeros((80, 80), np.uint8)
    corner[0:12, 0:20] = 60  # a shadow's corner at the border, no stroke in it
    corner[30:60, 30:33] = 200
    mask = np.where(corner > 0, 255, 0).astype(np.uint8)
    assert np.array_equal(without_shade(mask, corner)[0], mask)  # the writing's darkness unknown: kept
    out = without_shade(mask, corner, writing=200)[0]
    assert not out[0:12, 0:20].any() and out[30:60, 30:33].all()


def test_shade_is_parted_from_ink_at_the_border_and_a_dark_desk_is_not():
    dark = np.zeros((40, 40), np.uint8)
    dark[15:26, 15:26] = 200  # ink
    dark[0:15, 18:23] = 60  # a shadow from the top edge into it
    dark[30:34, 30:36] = 200  # ink clear of the border, with a faint rim that stays
    dark[29, 30:36] = 40
    mask = np.where(dark > 0, 255, 0).astype(np.uint8)
    out = without_shade(mask, dark)[0]
    assert not out[0:15].any() and out[15:26, 15:26].all()
    assert out[29:34, 30:36].all()
    desk = np.zeros((40, 40), np.uint8)
    desk[:, 0:6] = 220  # the desk beyond the sheet, darker than the stroke that touches it
    desk[18:21, 6:20] = 90
    mask = np.where(desk > 0, 255, 0).astype(np.uint8)
    assert np.array_equal(without_shade(mask, desk)[0], mask)


def test_a_broken_printed_line_goes_with_its_short_pieces_and_writing_beside_it_stays():
    """A printed line crossing the frame, faint in two places: its long piece reaches the border and
    is a line; the two pieces beyond the gaps are too short to count alone, but lie on its extension
    (ink._continuations) and go with it. A flat stroke of writing just under the line, and a
    thicker bar on it, are not the line and stay."""
    gray = np.full((200, 400), 210, np.uint8)
    gray[100:102, 0:250] = 120  # the line: its long piece from the border ...
    gray[101:103, 262:300] = 120  # ... and two short ones beyond faint gaps (the sheet sags a pixel)
    gray[101:103, 312:350] = 120
    gray[112:115, 360:395] = 60  # a stroke of writing under the line's extension
    gray[96:106, 200:240] = 60  # a bar of writing on the line, thicker than it
    paper = paper_map(gray, 31)
    mask = np.where(gray < 180, 255, 0).astype(np.uint8)
    out, lines = remove_lines(mask, gray, darkness(gray, paper), writing=30.0)
    assert not out[100:103, 0:200].any() and not out[100:103, 240:350].any()  # the line and its pieces are out
    assert out[112:115, 360:395].all()  # the writing under it stays
    assert out[96:106, 200:240].all()  # so does the bar, whole
    assert lines[101:103, 262:300].all() and lines[101:103, 312:350].all()


@pytest.mark.parametrize("broken", [False, True])
def test_a_long_wavy_margin_line_does_not_set_the_writings_size(mnist, reader, broken):
    """A ruled sheet's margin line, bent by the page's curl so that it is not taken out as a printed
    line, holds more ink than the digits: as "the writing's height" it would make every digit a speck.
    Broken into pieces (a faint print), each piece is as thin as a "1" and taller than the digits."""
    frame = paper_with([mnist_digit(mnist, c) for c in (5, 8, 3)]).astype(np.float32)
    for y in range(8, 400):
        if broken and y % 200 < 8:
            continue
        x = 30 + int(round(6 * np.sin(y / 40)))
        frame[y, x : x + 5] *= 0.3
    res = reader.read(np.clip(frame, 0, 255).astype(np.uint8), still=True)
    assert [d.digit for d in res.digits] == [5, 8, 3]


@pytest.mark.parametrize("degrees", [12, -15, 20])
def test_a_ruled_sheet_held_at_an_angle_loses_its_lines_and_keeps_its_digits(mnist, reader, degrees):
    """Digits written across a ruled sheet's lines, the sheet turned 12-20 degrees in the frame: the
    lines rise more than a level line's tolerance (LINE_TILT), were not found, and joined the digits
    into shapes that read as 1s or nothing. The lines' slope is measured (ink._tilt) and they are
    looked for on the mask turned level: the number is read."""
    page = paper_with([mnist_digit(mnist, c) for c in (2, 0, 2, 6)], size=(1000, 800))
    page = np.roll(page, (160, 180), (0, 1))
    for y in range(20, 800, 36):
        cv2.line(page, (0, y), (999, y), 110, 2, cv2.LINE_AA)
    turn = cv2.getRotationMatrix2D((500, 400), degrees, 1.0)
    frame = cv2.warpAffine(page, turn, (1000, 800), flags=cv2.INTER_LINEAR)[160:640, 180:820]
    res = reader.read(frame, still=True)
    assert res.lines == ["2026"], [(d.symbol, d.box) for d in res.digits]


@pytest.mark.parametrize("degrees", [22, -22, 25])
def test_a_tilted_sheets_broken_lines_are_judged_against_the_frame_not_the_turned_canvas(mnist, reader, degrees):
    """The same, its printed lines broken by gaps into pieces of 130-250 px (a third of the frame's
    width at most): on the frame turned level they are a grid's broken lines, GRID_PIECES pieces
    crossing LINE_PIECE of the frame each. The turned canvas is wider than the frame; measured against
    its width, the pieces were too short, stayed, and joined the digits that cross them."""
    page = paper_with([mnist_digit(mnist, c) for c in (2, 0, 2, 6)], size=(1000, 800))
    page = np.roll(page, (160, 180), (0, 1))
    rng = np.random.default_rng(0)
    for y in range(20, 800, 36):
        x = int(rng.integers(0, 60))
        while x < 1000:
            n = int(rng.integers(130, 250))
            cv2.line(page, (x, y), (x + n, y), 110, 2, cv2.LINE_AA)
            x += n + 24
    turn = cv2.getRotationMatrix2D((500, 400), degrees, 1.0)
    frame = cv2.warpAffine(page, turn, (1000, 800), flags=cv2.INTER_LINEAR)[160:640, 180:820]
    res = reader.read(frame, still=True)
    assert res.lines == ["2026"], [(d.symbol, d.box) for d in res.digits]


@pytest.mark.parametrize("slope", [0.35, -0.25])
def test_the_slope_of_printed_lines_broken_into_short_pieces_is_measured(slope):
    """Faint printed lines that noise breaks into pieces of 30-90 px, none crossing LINE_SPAN of the
    frame, among strokes of handwriting at scattered slopes: the pieces, many at one slope, give the
    sheet's (ink._pieces_slope), so that its lines are looked for on the frame turned level. The
    strokes alone give none. And where a margin line joins a whole line into one mesh that crosses the
    frame and is no straight line, the pieces still give the slope (it was taken as none: a ruled sheet
    at 15 degrees so joined, the angle condition's seed 3 frame 22, kept its lines, and lost 4 of its 5
    digits with them where a few pixels of its ink changed)."""
    from realtime.ink import _tilts

    rng = np.random.default_rng(1)
    strokes = np.zeros((480, 640), np.uint8)
    for _ in range(12):  # handwriting: short straight strokes at any slope
        x, y, a = int(rng.integers(40, 600)), int(rng.integers(40, 440)), rng.uniform(0, np.pi)
        d = rng.uniform(15, 40) * np.array([np.cos(a), np.sin(a)])
        cv2.line(strokes, (int(x - d[0]), int(y - d[1])), (int(x + d[0]), int(y + d[1])), 255, 3)
    assert _tilts(strokes) == (0.0, 0.0)
    mask = strokes.copy()
    for y0 in range(-300, 700, 40):
        x = int(rng.integers(0, 40))
        while x < 640:
            n = int(rng.integers(30, 90))
            cv2.line(mask, (x, int(y0 + slope * x)), (x + n, int(y0 + slope * (x + n))), 255, 1)
            x += n + int(rng.integers(6, 14))
    assert abs(_tilts(mask)[0] - slope) < 0.03
    cv2.line(mask, (0, 220), (639, int(220 + slope * 639)), 255, 1)  # a whole line ...
    cv2.line(mask, (100, 0), (100, 479), 255, 2)  # ... and the margin line across it
    assert abs(_tilts(mask)[0] - slope) < 0.03


@pytest.mark.parametrize("text", ["Meter reading No. 19625", "Invoice 2023/245"])
def test_a_line_of_print_beside_the_digits_is_not_read(mnist, reader, text):
    """A printed line whose letters stand a few pixels apart, above handwritten digits: one by one
    its letters look like digits to the network (and its number is digits); as words it is print."""
    frame = paper_with([mnist_digit(mnist, c) for c in (6, 2, 9)])
    cv2.putText(frame, text, (30, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 20, 2, cv2.LINE_AA)
    res = reader.read(frame, still=True)
    assert [d.digit for d in res.digits] == [6, 2, 9]


def _glyph(label: int) -> np.ndarray:
    """A printed digit as the network sees it: one font's glyph, centred in 28x28."""
    img = np.zeros((28, 28), np.uint8)
    cv2.putText(img, str(label), (7, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2, cv2.LINE_AA)
    return img.astype(np.float32) / 255


@pytest.mark.parametrize("faded", [False, True])
@pytest.mark.parametrize("printed", [True, False])
def test_a_date_stamp_is_told_from_handwriting_by_its_repeated_glyphs(mnist, printed, faded):
    """A stamp's digits a dozen pixels tall: their boxes differ by a pixel (12 and 13 px: 8 %, too much
    for "one height" alone) along a tilted baseline. Printed, its two 2s, 0s and 7s are copies of one
    glyph and the line is a stamp; the same boxes holding a hand's digits are not. One faded digit,
    its box a third shorter (`faded`), does not hide the stamp, nor make the hand's digits one."""
    labels = [2, 0, 2, 6, 0, 7, 7, 9]
    heights = [12, 13, 12, 13, 12, 12, 13, 8 if faded else 12]
    boxes = [(100 + 10 * k, 200 - k - h, 8, h) for k, h in enumerate(heights)]
    rng = np.random.default_rng(0)
    if printed:
        images = [np.clip(_glyph(c) + rng.normal(0, 0.03, (28, 28)), 0, 1).astype(np.float32) for c in labels]
    else:
        images = [mnist.test_x[np.flatnonzero(mnist.test_y.numpy() == c)[k]].numpy().astype(np.float32) / 255
                  for k, c in enumerate(labels)]
    line = list(range(len(labels)))
    reads = [(np.eye(10, dtype=np.float32)[c], im) for c, im in zip(labels, images)]
    assert _numbered(line, boxes, [0.95] * len(labels), reads, NOT_A_DIGIT) is printed


def test_small_letters_inside_a_word_of_print_are_print_and_a_stroke_in_a_tilted_lines_box_is_not():
    """A line of print run together into one word box (378x20), its lower-case "o" and "e" (12 px,
    too much smaller than its capitals to be one line with them) in it: print. A handwritten stroke
    inside the tall box of a stretch of a printed line on a sheet held at an angle (223x62, not flat
    enough to be a word), and a shape under half the word's height in it (a speck): not."""
    shapes = [(355, 254, 14, 12), (419, 255, 14, 12), (475, 157, 42, 31), (200, 255, 6, 6)]
    words = [(90, 248, 378, 20), (339, 153, 223, 62)]
    assert _in_words(len(shapes), shapes + words) == {0, 1}


def test_doubtful_shapes_make_up_a_word_of_print_but_not_half_a_handwritten_line():
    """pipeline._lettered: "Page 4 of 23" (boxes and confidences as read in a wild frame): three
    letters called no digit and "of" read in doubt are a word's worth; without the doubtful ones, not.
    A handwritten "2 0 15", its 0 and its run-together 15 read in doubt, is not lettered either way."""
    boxes = [(421, 119, 20, 23), (443, 125, 16, 18), (462, 125, 18, 25), (482, 126, 15, 18),
             (511, 121, 16, 23), (557, 121, 14, 24), (579, 122, 19, 24), (602, 123, 18, 23)]
    conf = [0.16, 0.12, 0.91, 0.14, 0.94, 0.32, 0.98, 0.97]
    line = list(range(len(boxes)))
    assert _lettered(line, boxes, conf, NOT_A_DIGIT, 0.5)
    assert not _lettered(line, boxes, conf, NOT_A_DIGIT)
    hand = [(172, 321, 33, 45), (204, 336, 16, 25), (225, 319, 44, 50)]
    assert not _lettered([0, 1, 2], hand, [0.99, 0.31, 0.33], NOT_A_DIGIT, 0.5)


def test_a_neat_row_of_small_handwritten_digits_is_not_taken_for_a_stamp(mnist, reader):
    """Seven handwritten digits 20-22 px tall on one baseline are as even as a stamp's to a pixel or
    two, but the hand's two 7s, two 4s and two 0s are not copies of one glyph: all are read."""
    labels = [7, 4, 0, 7, 4, 0, 3]
    page = np.full((240, 400), 220, np.float32)
    x = 20
    for k, (label, height) in enumerate(zip(labels, [20, 22, 21, 20, 22, 21, 20])):
        d = mnist_digit(mnist, label, k // 3 * 5)
        g = cv2.resize(d, (max(2, int(d.shape[1] * height / d.shape[0])), height), interpolation=cv2.INTER_AREA)
        page[130 - height : 130, x : x + g.shape[1]] *= 1 - 0.85 * np.clip(g, 0, 1)
        x += g.shape[1] + 14
    res = reader.read(np.clip(page, 0, 255).astype(np.uint8), still=True)
    assert "".join(str(d.digit) for d in res.digits) == "".join(map(str, labels))


def test_rows_of_a_sheet_held_at_an_angle_are_read_along_their_slope():
    """Two rows of four digits 40 px tall, a pitch of 60 px, rising 20 degrees: one digit to the next
    steps up 22 px, more than half a digit, and the rows fell apart into pieces of a digit or two.
    Their slope (track.row_slope) is taken off first: two rows, "2026" and "1984". A hand's row
    drifting 5 degrees on a level sheet shows no slope."""
    rise = np.tan(np.radians(20))
    boxes = [(100 + 60 * k, round(300 - 60 * k * rise) + dy, 30, 40) for dy in (0, 120) for k in range(4)]
    symbols = list("20261984")
    assert len(group_rows(boxes)) > 2
    slope = row_slope(boxes)
    assert slope == pytest.approx(-rise, abs=0.02)
    assert read_lines(boxes, symbols, rows=group_rows(boxes, slope)) == ["2026", "1984"]
    drift = [(100 + 60 * k, round(300 - 60 * k * np.tan(np.radians(5))), 30, 40) for k in range(6)]
    assert row_slope(drift) == 0.0


def test_two_pieces_are_joined_in_the_coarser_ones_pixels():
    """detect.join: a piece cut out at full resolution and a shape at half resolution become one
    candidate at half resolution, holding both sets of pixels and nothing between them."""
    body_own = np.zeros((12, 10), np.uint8)
    body_own[1:11, 1:9] = 1  # an 8x10 shape at half resolution, at (20, 30) in its pixels
    body = Candidate((21, 31, 8, 10), (20, 30), body_own, body_own * 200, int(body_own.sum()), scale=0.5)
    flag_own = np.zeros((6, 22), np.uint8)
    flag_own[1:5, 1:21] = 1  # a 20x4 stroke at full resolution, at (46, 52): (23, 26) at half
    flag = Candidate((47, 53, 20, 4), (46, 52), flag_own, flag_own * 100, int(flag_own.sum()), scale=1.0)
    both = join(body, flag)
    assert both.scale == 0.5
    # A half-res pixel is the flag's when any of its four pixels is (a thin stroke is not lost):
    # the flag's rows 53-56 and columns 47-66 become rows 26-28 and columns 23-33.
    assert both.box == (21, 26, 13, 15)
    ox, oy = both.origin
    assert both.own[31 - oy : 41 - oy, 21 - ox : 29 - ox].all()  # the body, whole
    assert both.own[26 - oy : 29 - oy, 23 - ox : 34 - ox].all()  # the flag, halved
    assert not both.own[29 - oy : 31 - oy].any()  # the gap between them stays paper
    assert both.dark.max() == 200 and both.area == int(both.own.sum())

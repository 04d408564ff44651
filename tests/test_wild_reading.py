"""The reader on generated photos of every capture condition (realtime.measure.wild), and the network's
"not a digit": a few frames per condition, each held to a margin under what the accuracy command
reports for 40 frames (`python -m realtime.measure.accuracy --wild`), so that a mechanism that breaks
on one kind of paper, pen or light fails here, not only in the README's table.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from realtime.classify import SparseBackend, looks, second_look
from realtime.measure.scene import MnistDigits, Page
from realtime.measure.wild import CONDITIONS, wild_scenes
from realtime.pipeline import NOT_A_DIGIT
from realtime.score import Score
from train.mnist_spec import standardise
from train.model import FCL
from train.outliers import KINDS, make_outliers
from train.trainer import to_ink

FRAMES = 6  # per condition (seed 7, so not the frames the README's figures come from) ...
ONE_DIGIT_FRAMES = 24  # ... and for the conditions with one digit a frame
#: Conditions the reader does not yet meet the issue's 97 % on: their own floors, a margin under what it
#: reads on these seed-7 frames today (the README's table gives the 40-frame figures). A few frames make
#: these figures coarse: one digit is 3-5 % of a condition.
FLOORS = {
    "hairline pen": (0.72, 0.68, 0.15),
    "squared paper": (0.88, 0.78, 0.40),
    "dim light": (0.68, 0.32, 0.30),
    "sheet held at an angle": (0.88, 0.72, 0.15),
    "blur": (0.62, 0.62, 0.10),
    "Semeion-style one-digit photos": (0.93, 0.70, 0.15),  # its flagged 1s, stretched, read as 7s
    "a sticky note on a dark desk": (0.88, 0.80, 0.40),  # the desk's texture around the note: extra boxes
}
DEFAULT = (0.93, 0.85, 0.15)  # found, read right (shares of the digits), extra boxes per digit


@pytest.fixture(scope="module")
def digits(mnist_dir) -> MnistDigits:
    return MnistDigits.test_set(mnist_dir)


def score_frame(res, sc) -> tuple[dict, list]:
    """The reading of one wild frame scored against its truth: (summary, errors)."""
    score = Score()
    score.add("frame", [d.box for d in res.digits], [d.symbol for d in res.digits],
              [t.box for t in sc.digits], [t.digit for t in sc.digits], res.lines, sc.lines)
    return score.summary(), score.errors


def assert_read_whole(reader, sc, *what) -> None:
    """Every digit of a wild frame read right and no extra box (`what` names the frame on failure)."""
    res = reader.read(sc.image, still=True)
    s, errors = score_frame(res, sc)
    shown = [(d.symbol, d.box) for d in res.digits]
    assert s["read_right"] == s["digits"] and s["extra"] == 0, (*what, s, errors, shown)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_condition_is_read(reader, digits, condition):
    score = Score()
    frames = ONE_DIGIT_FRAMES if "single" in condition or "one-digit" in condition else FRAMES
    for k, sc in enumerate(wild_scenes(condition, frames, digits, seed=7)):
        res = reader.read(sc.image, still=True)
        score.add(f"{condition} #{k}", [d.box for d in res.digits], [d.symbol for d in res.digits],
                  [t.box for t in sc.digits], [t.digit for t in sc.digits], res.lines, sc.lines)
    found, right, extra = FLOORS.get(condition, DEFAULT)
    s = score.summary()
    assert s["found"] >= found * s["digits"] - 1, (condition, s, score.errors)  # a digit's grace: few frames
    assert s["read_right"] >= right * s["digits"] - 1, (condition, s, score.errors)
    assert s["extra"] <= extra * s["digits"] + 1, (condition, s)


def test_non_digits_are_mostly_rejected_and_digits_are_not(state, mnist):
    """Shapes a camera sees that are not digits (print, symbols, grid pieces, dots, texture, scribbles,
    pieces of digits, two digits run together), made from test digits and a seed the trainer never
    used, fall under the reader's "not a digit" threshold; MNIST's test digits almost never do."""
    model = FCL()
    model.load_state_dict(state)
    model.eval()
    images, kinds = make_outliers(1200, seed=4242, digits=mnist.test_x.numpy())
    with torch.no_grad():
        odd = torch.softmax(model(standardise(to_ink(torch.from_numpy(images)))), 1).max(1).values.numpy()
        real = torch.softmax(model(standardise(to_ink(mnist.test_x))), 1).max(1).values.numpy()
    assert (odd < NOT_A_DIGIT).mean() >= 0.75, {k: float((odd[kinds == i] < NOT_A_DIGIT).mean())
                                                 for i, k in enumerate(KINDS)}
    assert (real < NOT_A_DIGIT).mean() <= 0.005
    assert all((odd[kinds == i] < 0.5).mean() >= 0.5 for i in range(len(KINDS))), "every kind mostly unsure"


def test_a_digit_alone_in_a_big_frame_is_found_whatever_its_size(reader, mnist):
    """The writing's own scale: one MNIST digit drawn 40 px and 400 px tall on a 640x480 sheet."""
    src = MnistDigits(mnist.test_x.numpy(), mnist.test_y.numpy())
    rng = np.random.default_rng(3)
    for height in (40, 400):
        ink = src.sample(rng, 7)
        glyph = cv2.resize(ink, (int(ink.shape[1] * height / ink.shape[0]), height), interpolation=cv2.INTER_LINEAR)
        page = np.full((480, 640, 3), 215.0, np.float32)
        y, x = (480 - glyph.shape[0]) // 2, (640 - glyph.shape[1]) // 2
        page[y : y + glyph.shape[0], x : x + glyph.shape[1]] *= (1 - 0.85 * glyph)[..., None]
        scene = Page(page, [], [], blur=0.8, noise=3.0).shoot(rng, np.eye(3, dtype=np.float32))
        res = reader.read(scene.image, still=True)
        assert [d.digit for d in res.digits] == [7], (height, [(d.symbol, d.box) for d in res.digits])


def test_the_desk_around_the_sheet_is_not_read(reader, digits):
    """Frames whose sheet lies askew on a dark desk (640x480, seed 3, frames 54 and 56): the desk's
    grain and the shadow along the sheet's edge made five `1`s, two `?`s and a `6` there. The paper
    under them is under a quarter as bright as the sheet. And a wooden desk under a third as bright
    (1280x720, seed 3, frame 17: four `?`s and a `7` on its grain): a hard shadow keeps a third of the
    light or more, less than that is the desk (detect.DESK). Every digit is read."""
    scenes = list(wild_scenes("640x480 frame", 57, digits, seed=3))
    wide = list(wild_scenes("1280x720 frame", 18, digits, seed=3))
    for sc in (scenes[54], scenes[56], wide[17]):
        res = reader.read(sc.image, still=True)
        s, errors = score_frame(res, sc)
        assert s["extra"] == 0 and s["found"] == s["digits"], (s, errors)


def test_chalk_is_read_on_a_board_whose_few_dark_specks_are_as_extreme(reader, digits):
    """Light on dark board, seed 3, frames 32 and 37: a few dark specks on the green board stand out
    of it as far as the chalk does, and the board was read as paper with ink. There is ten times more
    chalk than specks, and it is brighter than 95 % of the frame: the chalk is the writing."""
    scenes = list(wild_scenes("light on dark board", 38, digits, seed=3))
    for sc in (scenes[32], scenes[37]):
        res = reader.read(sc.image, still=True)
        assert res.detection.light_on_dark
        s, errors = score_frame(res, sc)
        assert s["read_right"] >= s["digits"] - 2 and s["extra"] <= 1, (s, errors)


def test_two_thin_chalk_digits_beside_a_shadow_on_the_board_are_read(reader, digits):
    """Light on dark board, seed 0, frame 25: two thin chalk digits cover about 0.15 % of the frame, and
    a shadow lies across the board. Weighed on the brightest and darkest 0.5 % of the frame, the shadow
    made the dark tail the longer one, the board was read as paper with ink, and neither digit was
    found (ink._bright_tail, TAIL)."""
    sc = list(wild_scenes("light on dark board", 26, digits, seed=0))[25]
    res = reader.read(sc.image, still=True)
    s, errors = score_frame(res, sc)
    assert res.detection.light_on_dark
    assert s["read_right"] == s["digits"] and s["extra"] == 0, (s, errors)


def test_a_digit_in_two_pieces_is_read_as_one(reader, digits):
    """The pieces of one digit, each no digit alone, are joined when the network reads them together
    as a digit (pipeline.Reader._joins): a 5 whose flag was lifted off its body and reaches past it
    (one digit 20-50 %, seed 0, frames 75 and 163: nothing was shown), and a 5 broken in dim light
    (dim light, seed 0, frame 14: a "?"). And a sure digit is not taken into a join that reads less
    surely: a chalk 1 beside a scratch on the board (light on dark, seed 0, frame 16) stays a 1."""
    one = list(wild_scenes("single digit (20-50 % of the height)", 164, digits, seed=0))
    dim = list(wild_scenes("dim light", 15, digits, seed=0))
    board = list(wild_scenes("light on dark board", 17, digits, seed=0))
    for sc, extra in ((one[75], 0), (one[163], 0), (dim[14], 0), (board[16], 1)):  # (another scratch: a "1")
        res = reader.read(sc.image, still=True)
        s, errors = score_frame(res, sc)
        assert s["read_right"] == s["digits"] and s["extra"] <= extra, (s, errors)


def test_a_digit_in_two_parts_each_read_as_a_digit_but_not_surely_is_read_as_one(reader, digits):
    """Sheet held at an angle, seed 0: a 3 whose top ran along a ruled line and went with it, the rest
    read as a 5 (0.66; frame 23), a 4 in two strokes read as a 1 and a 1 (frame 28), a 6 read as a 1
    and a 0 (frame 36). Each part reads as some digit, under SURE_READ; joined, as the digit it is
    (pipeline.Reader._joins)."""
    angle = list(wild_scenes("sheet held at an angle", 37, digits, seed=0))
    for k in (23, 28):
        assert_read_whole(reader, angle[k], f"frame {k}")
    s, errors = score_frame(reader.read(angle[36].image, still=True), angle[36])
    assert s["read_right"] >= s["digits"] - 1 and s["extra"] == 0, (s, errors)  # (its 3 is still a "?")


def test_pieces_one_above_the_other_are_joined_even_when_one_reads_as_a_sure_digit(reader, digits):
    """A 6 whose stem and loop were drawn apart: the stem alone is a sure 1 and the loop beside its foot
    a doubtful 9 (one digit 20-50 %, seed 0, frame 11), and a 6 of a 640x480 sheet the same way (seed
    0, frame 16). Pieces sharing most of their columns are one digit, however sure a piece is alone;
    the frame's other digits, side by side, stay apart."""
    one = list(wild_scenes("single digit (20-50 % of the height)", 12, digits, seed=0))
    vga = list(wild_scenes("640x480 frame", 17, digits, seed=0))
    for sc in (one[11], vga[16]):
        assert_read_whole(reader, sc)


def test_the_slanted_edge_of_a_sheet_held_at_an_angle_is_not_shown_but_a_sure_digit_on_a_step_is(reader, digits):
    """A narrow shape along a slanted step in the light, read in doubt, is that step: the sheet's edge
    against the desk on a sheet held at an angle (seed 0, frame 15: a "?" box over it; seed 3, frame
    32). A digit along the edge of a hard shadow, read surely, is shown: a 1 (hard shadows, seed 3,
    frame 49) and a 3 (seed 0, frame 19) that a rule by the light alone took for the shadow's edge."""
    angle0 = list(wild_scenes("sheet held at an angle", 16, digits, seed=0))
    angle3 = list(wild_scenes("sheet held at an angle", 33, digits, seed=3))
    for sc, what in ((angle0[15], "seed 0 frame 15"), (angle3[32], "seed 3 frame 32")):
        assert_read_whole(reader, sc, what)
    shadow3 = list(wild_scenes("hard shadows", 50, digits, seed=3))
    s, errors = score_frame(reader.read(shadow3[49].image, still=True), shadow3[49])
    assert s["read_right"] == s["digits"], (s, errors)
    shadow0 = list(wild_scenes("hard shadows", 20, digits, seed=0))
    s, errors = score_frame(reader.read(shadow0[19].image, still=True), shadow0[19])
    assert s["read_right"] >= s["digits"] - 1 and not any("(3) read as" in e for e in errors), (s, errors)


def test_writing_on_brown_cardboard_coloured_paper_and_a_green_board_is_read(reader, digits):
    """Cardboard, seed 3, frames 6, 8 and 15; textured or coloured paper, seed 0, frame 12; light on a
    dark board, seed 3, frames 4 and 18. The ink image was the darkest colour channel as it is: on
    brown cardboard the blue one, at half the brightness of red, the sensor's noise twice as large
    next to it, and on a green board the red or the blue one (2 of 6, 3 of 7, 5 of 8, 5 of 8, 5 of 10
    and 0 of 7 digits read right). A coloured paper is made grey first (ink.paper_balance): every
    digit is read, and no extra box is shown."""
    card = list(wild_scenes("cardboard", 16, digits, seed=3))
    for k in (6, 8, 15):
        assert_read_whole(reader, card[k], f"cardboard frame {k}")
    assert_read_whole(reader, list(wild_scenes("textured or coloured paper", 13, digits, seed=0))[12], "textured 12")
    board = list(wild_scenes("light on dark board", 19, digits, seed=3))
    for k in (4, 18):
        assert_read_whole(reader, board[k], f"board frame {k}")


def test_writing_on_a_sticky_note_on_a_dark_desk_is_read(reader, digits):
    """A sticky note on a dark desk, seed 0, frames 12, 17 and 29: the note a third to half of the
    frame's size, the desk most of it. The frame's statistics were the desk's: the paper's grain, taken
    over the whole frame, was the desk's mottling next to its own paper estimate (frame 12: 169 and
    139 of 255 at the first look's two levels, the pen's darkest pixels 168-193 and 92-117), and a
    dark desk's colour brightened the note's blue ink away (paper_balance; frame 29: green and red 1.4
    and 2.3 times). 0, 1 and 0 digits read right. Where the bright part is
    under half of the frame (ink.the_sheet), the note's colour, grain and paper are the note's, and
    the desk keeps its own grain for what is ink on it (ink.grains): every digit is read, no extra box."""
    notes = list(wild_scenes("a sticky note on a dark desk", 30, digits, seed=0))
    for k in (12, 17, 29):
        assert_read_whole(reader, notes[k], f"note frame {k}")


def test_writing_on_a_sticky_note_on_a_desk_brighter_than_a_shadow_is_read(reader, digits):
    """A sticky note on a grey desk, seed 0, frames 7, 14 and 20 (pink, green, green): the desk at 36-45 %
    of the note's brightness, brighter than the third a hard shadow keeps, so the note was no sheet of
    its own and the desk's mottling set the paper's grain: 0 of 4, 0 of 4 and 0 of 6 digits read. The
    desk differs from the note in colour all along its sharp outline, as a shadow, which keeps the
    paper's colour, does not (ink.the_sheet): the note is the sheet and every digit is read. Frame 11
    (3 of 3 read before) checks the other half: its note, now a sheet, balanced to grey, made the light
    reading (the note one bright shape) win, and no digit was read; writing on a sheet smaller than
    the frame is read dark on light (ink._first_look)."""
    notes = list(wild_scenes("a sticky note on a dark desk", 21, digits, seed=0))
    for k in (7, 11, 14, 20):
        assert not reader.read(notes[k].image, still=True).detection.light_on_dark, k
        assert_read_whole(reader, notes[k], f"note frame {k}")


def test_a_sticky_note_on_a_dark_desk_is_not_taken_for_chalk_on_a_board(reader, digits):
    """A sticky note on a dark desk, seed 3, frames 30 and 33: the note is brighter than nearly all of
    the frame, as chalk is on a board, and the frame was read light-on-dark: the note one bright
    shape, the writing on it its holes (0 of 3 and 0 of 6 digits read, 2 and 6 extra boxes). The
    dark reading's writing lies inside the light reading's shapes (ink._written_on): it is the writing.
    Each frame's look is dark-on-light and every digit is read."""
    notes = list(wild_scenes("a sticky note on a dark desk", 34, digits, seed=3))
    for k in (30, 33):
        assert not reader.read(notes[k].image, still=True).detection.light_on_dark, k
        assert_read_whole(reader, notes[k], f"note frame {k}")


def test_shapes_read_in_doubt_on_the_desk_or_in_a_hard_shadow_are_not_shown(reader, digits):
    """On paper under half as bright as the frame's typical paper (the desk around a sheet, a hard
    shadow), a shape read in doubt is more often the desk's grain than a digit, and is not shown: the
    desk at a tilted sheet's corner (seed 0, frame 30), a JPEG frame's (seed 0, frame 28), and a dim
    room's dark desk (seed 3, frame 32: 11 "?" boxes before, on a frame of one digit). The digits
    on the sheets are all read."""
    angle = list(wild_scenes("sheet held at an angle", 31, digits, seed=0))
    jpeg = list(wild_scenes("JPEG", 29, digits, seed=0))
    for sc, what in ((angle[30], "angle frame 30"), (jpeg[28], "JPEG frame 28")):
        assert_read_whole(reader, sc, what)
    dim = list(wild_scenes("dim light", 33, digits, seed=3))[32]
    s, errors = score_frame(reader.read(dim.image, still=True), dim)
    assert s["read_right"] == s["digits"] and s["extra"] <= 5, (s, errors)


def test_a_second_look_reads_doubtful_digits_and_leaves_non_digits_in_doubt(state, mnist):
    """classify.second_look, the reading averaged over small deformations of a crop, for what the
    network reads in doubt (NOT_A_DIGIT to 0.5, a "?"): on MNIST's test digits read so (55 of them
    today) it makes about a quarter sure, and about three in four of those right; on the non-digit
    crops read so (50 of 1,200) it makes one in sixteen sure. A second look that made every doubtful
    shape sure, or none, fails here."""
    backend = SparseBackend(state)
    images, _ = make_outliers(1200, seed=4242, digits=mnist.test_x.numpy())
    for x, truth in ((to_ink(mnist.test_x).numpy()[:, 0], mnist.test_y.numpy()),
                     (to_ink(torch.from_numpy(images)).numpy()[:, 0], None)):
        first = backend.predict(x)
        doubt = np.flatnonzero((first.max(1) >= NOT_A_DIGIT) & (first.max(1) < 0.5))
        again = second_look(backend, x[doubt])
        sure = again.max(1) >= 0.5
        assert len(doubt) >= 20
        if truth is not None:
            assert sure.mean() >= 0.15 and (again[sure].argmax(1) == truth[doubt][sure]).mean() >= 0.6
        else:
            assert sure.mean() <= 0.15


def test_looks_are_the_image_and_small_deformations_of_it(mnist):
    image = to_ink(mnist.test_x[:1]).numpy()[0, 0]
    stack = looks(image)
    assert stack.shape == (9, 28, 28) and np.array_equal(stack[0], image)
    ink = image.sum()
    for other in stack[1:]:
        assert not np.array_equal(other, image)
        assert 0.75 * ink <= other.sum() <= 1.3 * ink  # the digit is still whole, neither cut nor doubled


def test_a_stretch_of_a_grid_line_left_in_is_not_a_1(reader, digits):
    """Squared paper, seed 0, frame 38: two stretches of vertical grid lines were darker than the rest
    and passed for writing along the line, and were read as `1`s. The line taken out goes on above
    and below each (detect._along_a_line); the three digits are read and nothing else."""
    sc = list(wild_scenes("squared paper", 39, digits, seed=0))[38]
    res = reader.read(sc.image, still=True)
    s, errors = score_frame(res, sc)
    assert s["read_right"] == s["digits"] == 3 and s["extra"] == 0, (s, errors)


def test_digits_printed_among_lower_case_letters_are_not_read(reader, digits):
    """Printed text, seed 3, frame 28: "Delivery note No. 59096" under three handwritten digits. The
    lower-case letters are smaller than the line's capitals and digits, so they were a line of their
    own, and "No. 59096" too few letters to be print; counted with the line they are set in
    (pipeline._within), they make it print. OpenCV 5.1 draws the text in another font: there the
    line under it, run together into one word of print, left its "o" and "e" as a line of two
    shapes (pipeline._in_words). The handwritten 0, 6 and 5 are read, nothing else."""
    sc = list(wild_scenes("printed text and a date stamp", 29, digits, seed=3))[28]
    res = reader.read(sc.image, still=True)
    assert [d.symbol for d in res.digits] == ["0", "6", "5"], [(d.symbol, d.box) for d in res.digits]


def test_a_grid_line_broken_into_short_pieces_is_taken_out(reader, digits):
    """Squared paper, seed 0, frame 29: where the green grid was faint, its lines broke into pieces
    too short to count as lines, and ten of them were read as `1`s (and a `6`). A piece lying on a
    found line's extension, of its thickness, is that line (ink._continuations)."""
    sc = list(wild_scenes("squared paper", 30, digits, seed=0))[29]
    res = reader.read(sc.image, still=True)
    s, errors = score_frame(res, sc)
    assert s["extra"] <= 3, (s, errors)


def test_a_wooden_desks_grain_does_not_stack_into_a_block(reader, digits):
    """1920x1080, seed 3, frame 0: the streaks of a wooden desk beside the sheet, each folded into the
    one above it as a digit's piece, stacked into a block four times the writing's height; the
    writing's height was then taken from it and four of the seven digits were too small to read. A
    shape takes pieces only while it stays within LONG_SLIVER of its own height or the writing's
    (detect._merge_pieces)."""
    sc = list(wild_scenes("1920x1080 frame", 1, digits, seed=3))[0]
    res = reader.read(sc.image, still=True)
    s, errors = score_frame(res, sc)
    assert s["read_right"] == s["digits"] == 7, (s, errors)


def test_a_printed_word_run_into_one_shape_counts_its_letters(reader, digits):
    """Printed text, seed 0, frame 33: "Item 31 Total" over two handwritten digits. Bold print runs a
    word's letters together into one or two shapes, so the line held too few shapes that are no digit
    to be print, and "31" and the letters of "Total" were read (six boxes). A shape that is no digit
    counts as the letters its width holds (pipeline._letters); the line is print, and the handwritten
    3 and 9 are read."""
    sc = list(wild_scenes("printed text and a date stamp", 34, digits, seed=0))[33]
    res = reader.read(sc.image, still=True)
    heading = [(d.symbol, d.box) for d in res.digits if d.box[1] + d.box[3] < 100]  # the printed line's row
    assert heading == [], heading
    s, errors = score_frame(res, sc)
    assert s["read_right"] == s["digits"] == 2, (s, errors)


def test_the_small_letters_set_among_a_line_of_print_go_with_it(reader, digits):
    """Printed text, seed 0, frames 29 and 33: "... No. 9..." and "... No. 3..." beside handwriting.
    The line's capitals and digits were found to be print and not shown, but its "o", shorter than
    them, was a size group of its own, and read as a 0. The shapes of a printed line's row set among
    it (inside its box) and shorter than its shapes are its lower-case letters (pipeline._set_among):
    no extra box, and the handwritten digits are all read."""
    frames = list(wild_scenes("printed text and a date stamp", 34, digits, seed=0))
    for k in (29, 33):
        assert_read_whole(reader, frames[k], k)


def test_a_row_of_print_is_not_taken_out_as_a_grids_pieces(reader, digits):
    """Printed text, seed 0, frames 1 and 8: rows of bold print ("Meter reading No. 80448", an
    invoice's number) beside handwriting on plain paper. Bridged along the rows, their letters ran
    into straight bands of one thickness, five of them: a grid's broken lines, taken out; what stood
    above and below them (stems, a "t", the "o" of "No.") was read as 1s, 0s and 8s, 13 extra boxes.
    A grid's pieces are each one printed line, no thicker than the writing's strokes
    (ink.PIECE_STROKES); left whole, the print test knows the rows for print."""
    frames = list(wild_scenes("printed text and a date stamp", 9, digits, seed=0))
    for k in (1, 8):
        assert_read_whole(reader, frames[k], k)


def test_a_printed_line_with_letters_and_a_few_even_digits_is_print(reader, digits):
    """Printed text, seed 0, frame 9: "Page 5 of 15" beside handwriting. Its lower-case letters are
    under a third of the writing's height and never become shapes, so the line's shapes stood too far
    apart to be set as type, and "5", "1", "5" (and "g" as a 9) were read. A line with letters in it
    whose digits, three or more, share one height and one baseline (pipeline._numbered with
    PRINTED_DIGITS) is print; the handwritten digits of the frame are all read."""
    sc = list(wild_scenes("printed text and a date stamp", 10, digits, seed=0))[9]
    res = reader.read(sc.image, still=True)
    in_line = [(d.symbol, d.box) for d in res.digits
               if 340 <= d.box[0] + d.box[2] / 2 <= 500 and 375 <= d.box[1] + d.box[3] / 2 <= 400]
    assert in_line == [], in_line
    s, errors = score_frame(res, sc)
    assert s["read_right"] == s["digits"] == 8, (s, errors)


def test_a_big_digit_under_a_shadow_is_read(reader, digits):
    """One digit 50-95 % of the height, seed 0, frames 81 and 109: the soft shadow of something held
    over the sheet lies across the digit, clear of the frame's border, and is narrower than the paper
    estimate a digit this big needs; it joined the digit into one blot, no digit, and nothing was
    shown. One digit 20-50 %, frame 6: the same (a "?"); frames 99 and 264: a shadow's corner at the
    border beside the digit, with no stroke in it, joined the digit as a piece and carried it to the
    border. The faint part of a mostly faint blot goes (ink.without_shade), a shade at the border
    with no stroke goes whole, and a blot at the border is no piece of a digit clear of it
    (detect._merge_pieces)."""
    big = list(wild_scenes("single digit (50-95 % of the height)", 110, digits, seed=0))
    mid = list(wild_scenes("single digit (20-50 % of the height)", 265, digits, seed=0))
    for sc in (big[81], big[109], mid[6], mid[99], mid[264]):
        res = reader.read(sc.image, still=True)
        s, errors = score_frame(res, sc)
        assert s["read_right"] == s["digits"] == 1 and s["extra"] == 0, (s, errors)


def test_a_digit_inside_the_box_of_the_sheets_edge_is_not_its_piece(reader, digits):
    """Thick marker, seed 0, frame 29, and seed 3, frame 7: the shadow along the sheet's top and
    right edges is one shape reaching the frame's border, its box around most of the sheet; a digit
    inside that box was folded into it as its piece, and never read. A piece goes into a shape
    reaching the border only where that shape's own pixels come near it (detect._merge_pieces)."""
    for seed, k in ((0, 29), (3, 7)):
        assert_read_whole(reader, list(wild_scenes("thick marker", k + 1, digits, seed=seed))[k], seed, k)


def test_the_edge_of_the_sheet_or_of_a_shadow_is_no_1(reader, digits):
    """Seed 3: 640x480 frame 13, JPEG frame 19, 1920x1080 frame 56 showed 2, 3 and 3 extra boxes, "1"s
    along the sheet's edge against the desk and along a hard shadow's edge: each the dark side of a
    step in the light, no darker than that side. A narrow shape with a step beside it whose own
    pixels are hardly darker than the dark side is not read (detect._on_a_step)."""
    for condition, k in (("640x480 frame", 13), ("JPEG", 19), ("1920x1080 frame", 56)):
        assert_read_whole(reader, list(wild_scenes(condition, k + 1, digits, seed=3))[k], condition, k)


def test_a_rulers_shadow_darker_than_the_writing_is_parted_from_it(reader, digits):
    """Hard shadows, seed 3, frame 28: a ruler's shadow, a straight band darker than the pencil
    writing, crosses the sheet diagonally and joined all seven digits into one shape: none was read.
    The band is taken out (ink.without_bands), the ink across it stays: five are read now (the two
    written across the band lose its faint part there and are misread)."""
    sc = list(wild_scenes("hard shadows", 29, digits, seed=3))[28]
    res = reader.read(sc.image, still=True)
    s, errors = score_frame(res, sc)
    assert s["read_right"] >= 5 and s["extra"] == 0, (s, errors)


def test_a_shape_far_fainter_than_the_writing_is_not_shown(reader, digits):
    """Seed 3: ruled paper frame 36 and a sheet held at an angle, frame 55, showed pieces of the pink
    margin line as "1"s (and a "?"); hard shadows, frame 4, two fingers of a hand's shadow. Each is
    under FAINT_INK of the darkness of the frame's typical digit (the median of those read), so it is
    no writing and not shown; every digit of the three frames is read. Relative, not absolute: a frame
    of faint writing alone is read as well (the dim-light condition and the photos' "dim" keep their
    figures)."""
    for condition, k in (("ruled paper", 36), ("sheet held at an angle", 55), ("hard shadows", 4)):
        assert_read_whole(reader, list(wild_scenes(condition, k + 1, digits, seed=3))[k], condition, k)


def test_a_printed_word_read_as_a_doubtful_digit_still_counts_its_letters(reader, digits):
    """Printed text, seed 0, frame 18: "Page 4 of 23" over two handwritten digits. The network calls
    "P", "a" and "e" no digit, reads "g" as a 9 and "of", run together, as a 9 in doubt: three letters,
    short of a word's worth (PRINT_WORD) and of half the line's eight shapes, and the line was read,
    five extra boxes. Toward a word's worth, shapes read in doubt count as letters too
    (pipeline._lettered): the line is print, and the handwritten digits are read, no extra box."""
    sc = list(wild_scenes("printed text and a date stamp", 19, digits, seed=0))[18]
    assert_read_whole(reader, sc, "print frame 18")


def test_bright_blots_alone_are_no_light_writing(reader, digits):
    """A 1280x720 frame, seed 3, frame 23: faint pencil under a soft shadow's edge. The dark reading's
    writing sits at the middle of the frame's brightness (faint), and the light reading found the lit
    paper around "28" and along the shadow's edge, brighter than 94 % of the frame: read
    light-on-dark, no digit was found. Those bright shapes are blots, no pen strokes (measure_scale's
    amount 0): light writing must be seen as strokes (ink._first_look). Read dark on light, every digit."""
    sc = list(wild_scenes("1280x720 frame", 24, digits, seed=3))[23]
    assert not reader.read(sc.image, still=True).detection.light_on_dark
    assert_read_whole(reader, sc, "1280x720 frame 23")


def test_faint_writing_is_measured_down_to_a_share_of_its_own_darkness(reader, digits):
    """Blur, seed 0, frame 18: a pale pen out of focus, its strokes' darkness 0.22 of the paper's
    brightness. The first look takes a pixel as writing 0.144 darker than the paper, two thirds of that
    darkness: it saw the strokes' middles and measured them 5.6 px wide (8.1 px with their soft rims),
    and the search level's paper estimate, a few of those wide, took the rest of the strokes for
    paper: 4 of 7 digits read. Writing that faint is measured again down to FAINT_LOOK of its own
    darkness (ink.first_look): 8.0 px (11.1 px), and every digit is read."""
    sc = list(wild_scenes("blur", 19, digits, seed=0))[18]
    assert_read_whole(reader, sc, "blur frame 18")


def test_a_digit_in_three_pieces_is_joined_two_by_two(reader, digits):
    """A sheet held at an angle, seed 3, frame 17: a 2 and a 6 written across its ruled lines, cut by
    the lines taken out, the 2 into two pieces and the 6 into three. Joined in one round only, the 2's
    halves read as a 7 and a 3 (an extra box) and the 6 as a 1 from its stem. A joined pair may take
    one more shape or piece in a second round (pipeline.JOIN_ROUNDS): the frame's three digits are
    read, no extra box. (Dim light, seed 3, frame 24, a 3 whose faint strokes broke into three shapes,
    was this test's frame: its strokes are now followed along their ridges, one shape.)"""
    sc = list(wild_scenes("sheet held at an angle", 18, digits, seed=3))[17]
    assert_read_whole(reader, sc, "angle frame 17")


def test_a_wide_digit_in_pieces_is_joined(reader, digits):
    """Hard shadows, seed 0, frame 19: a 0 43 px wide and 32 tall whose faint strokes broke into three
    pieces, read as a 6 and a 7 (an extra box): joined, it was wider than 1.3 times its height, taken
    for two digits side by side. 1.8 % of MNIST's training digits are that wide (5 % of its 2s, 9 % of
    its 5s), 0.5 % wider than 1.5 (pipeline.JOIN_WIDE): the pieces are one 0, and the frame's nine
    digits are read, no extra box."""
    sc = list(wild_scenes("hard shadows", 20, digits, seed=0))[19]
    assert_read_whole(reader, sc, "hard shadows frame 19")


def test_a_digit_whose_faint_part_fell_under_the_threshold_is_read_whole(reader, digits):
    """Blur, seed 0, frame 28: a 5 out of focus whose right part is fainter than the mask asks; its left
    part alone read as a 2 (0.74). Textured paper, seed 0, frame 20: a 3 whose top is faint, read from
    the rest as a 5 (0.82). A digit read in doubt is read again from the ink grown into the fainter
    pixels next to it (ink.grown, pipeline.Reader._regrown): the whole 5 (0.88) and the whole 3
    (0.95), and every digit of both frames."""
    sc = list(wild_scenes("blur", 29, digits, seed=0))[28]
    assert_read_whole(reader, sc, "blur frame 28")
    sc = list(wild_scenes("textured or coloured paper", 21, digits, seed=0))[20]
    assert_read_whole(reader, sc, "textured frame 20")


def test_faint_strokes_on_grain_are_followed_along_their_ridges(reader, digits):
    """Blur, seed 0, frame 5: of nine digits, a pale 6 and 1 out of focus were read as pieces or not at
    all. Cardboard, seed 0, frame 12: a 7 read as a 0 from a blotch and its bar. Dim light, seed 0,
    frame 15: a 2 in the sensor's noise read as a 1 from its stem. Where the paper's grain sets the
    threshold, strokes are carried on along the darkness's ridges (ink.along_ridges): every digit of
    the three frames is read, with no extra box."""
    for condition, k in (("blur", 5), ("cardboard", 12), ("dim light", 15)):
        sc = list(wild_scenes(condition, k + 1, digits, seed=0))[k]
        assert_read_whole(reader, sc, condition, k)


def test_a_line_of_print_is_told_by_its_words_that_are_no_digits_shapes(reader, digits):
    """Printed text, seed 0, frame 10: "Exercise 42 Total" across the top of the page. "Exercise", far
    wider than a digit, was left out by detect and never reached the reader, which saw the 4 and the 2
    beside "Total" alone: not a word's worth of letters, and the 4 and the 2 were shown. detect hands
    such shapes on (Detection.others: of the writing's size, no digit's shape or density) and the
    reader counts their letters when it looks for lines of print: the frame's six handwritten digits
    are read, no extra box."""
    sc = list(wild_scenes("printed text and a date stamp", 11, digits, seed=0))[10]
    assert_read_whole(reader, sc, "print frame 10")

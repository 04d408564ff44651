"""Stage 1, detect: find the handwritten digits in a frame and return one candidate per digit.

Ink is found by how much darker it is than the paper around it, not by a global grey level: the paper's
brightness is estimated with a morphological closing on a small copy of the frame (it removes anything
thinner than the kernel, i.e. the writing, and follows gradients, shadows and vignetting), and each pixel's
"darkness" is `(paper - pixel) / paper`. That ratio is the same under bright and dim light, so one
threshold works across the sheet. Pixels above a low threshold form shapes, found as outer contours
(holes of 0, 6, 8, 9 stay background); a shape counts if some of it is clearly dark (hysteresis),
its size is plausible for the frame, it does not touch the frame border, and its ink density and aspect
are those of a digit. Pieces of one digit (a 5's detached bar, a pencil gap) are merged into it, and a
component far wider than a digit (touching digits, `10`) carries the columns where it may be cut.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import cv2
import numpy as np

from train.resample import jit, linear_axis

STROKE_MAX = 1 / 30  # the widest stroke (as a fraction of the frame's longer side) still seen as ink
HALF_FROM = 480  # frames whose longer side is at least this are searched at half resolution
NOISE_SIGMAS = 5.0  # ink must be darker than the paper by this many standard deviations of the sensor noise


@dataclass
class DetectConfig:
    threshold: float = 0.32  # darkness (0..1, relative to the local paper) a digit's core must reach
    low_ratio: float = 0.45  # pixels darker than threshold * low_ratio belong to a digit's shape
    light_on_dark: bool = False  # chalk on a board, white pen on black paper
    min_height_px: int = 10  # smaller digits cannot be read reliably
    min_height_frac: float = 0.018  # ... nor digits under this fraction of the frame's shorter side
    max_height_frac: float = 0.9
    max_aspect_tall: float = 25.0  # h / w: a "1" is a thin line, a long rule is not a digit
    max_aspect_wide: float = 3.2  # w / h: wider than this is a rule or a word, not 1-3 touching digits
    min_density: float = 0.05  # ink pixels / box area, for shapes not thin like a "1"
    max_density: float = 0.75
    max_candidates: int = 256  # bounds the time a frame full of text or texture can take
    work_long_side: int = 1280  # larger frames are reduced to this first


@dataclass
class Candidate:
    """One digit-shaped shape, in working-image pixels, with its own pixels cut out."""

    box: tuple[int, int, int, int]  # x, y, w, h (tight around the ink)
    origin: tuple[int, int]  # where `own` and `dark` start (the box less one pixel of margin)
    own: np.ndarray  # uint8 0/1: this shape's pixels (not its neighbours'), box + 1 px margin
    dark: np.ndarray  # uint8 darkness over the same crop
    area: int  # ink pixels
    # Filled in by propose_cuts, for shapes wide enough to be touching digits:
    cuts: list[int] = field(default_factory=list)  # where it may be split, in slant-corrected columns
    slant: float = 0.0  # the writing's slant (dx per dy); cuts follow it, so italic digits part cleanly
    span: int = 0  # width once the slant is removed (how many digits wide it is, with the height)


@dataclass
class Detection:
    """What detect() found: the working-resolution mask and the candidates."""

    scale: float  # working pixels per frame pixel (<= 1)
    mask: np.ndarray  # uint8 0/255, the ink pixels (the debug view shows it)
    candidates: list[Candidate]
    rejected: int = 0  # shapes that looked like neither digits nor noise


def to_8bit(frame: np.ndarray) -> np.ndarray:
    """Any frame (grey, BGR, BGRA; 8 or 16 bit; float, NaN included) as 8-bit grey or BGR."""
    if frame.dtype != np.uint8:
        if frame.dtype == np.uint16:
            frame = (frame >> 8).astype(np.uint8)
        elif frame.dtype == np.bool_:
            frame = frame.astype(np.uint8) * 255
        elif np.issubdtype(frame.dtype, np.floating):
            f = np.nan_to_num(frame.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
            frame = (np.clip(f, 0, 1) * 255).astype(np.uint8)
        else:
            frame = np.clip(frame, 0, 255).astype(np.uint8)
    if frame.ndim == 3:
        if frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        elif frame.shape[2] != 3:
            frame = frame[:, :, 0]
    return np.ascontiguousarray(frame)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """Any frame as one 8-bit grey channel."""
    frame = to_8bit(frame)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame


def paper_map(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness under each pixel: the image with the writing removed.

    A morphological closing fills every dark mark narrower than the kernel (the writing) with the
    paper around it, and follows gradients, shadows and vignetting that are wider.
    """
    k = max(3, round(max(gray.shape) * STROKE_MAX) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel)  # the default border is neutral for both steps
    return cv2.max(paper, 16)  # a black frame has no paper to compare with: nothing counts as ink


def noise_sigma(gray: np.ndarray) -> float:
    """The sensor noise's standard deviation in grey levels, from the median difference between
    horizontal neighbours on every 8th row (a median: the writing's edges are too few to move it)."""
    if gray.shape[1] < 2:
        return 0.0
    return _median_u8(cv2.absdiff(gray[::8, 1:], gray[::8, :-1])) / 0.954  # median of |N(0, 2 s^2)| = 0.954 s


@jit
def _median_u8(values):  # pragma: no cover - compiled
    hist = np.zeros(256, np.int64)
    for y in range(values.shape[0]):
        for x in range(values.shape[1]):
            hist[values[y, x]] += 1
    half, seen = (values.size + 1) // 2, 0
    for level in range(256):
        seen += hist[level]
        if seen >= half:
            return level
    return 0


def darkness(gray: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """uint8 (paper - gray) / paper: 0 on paper, 255 for black ink, the same under any light."""
    return cv2.divide(cv2.subtract(paper, gray), paper, scale=255)


def darkness_map(gray: np.ndarray, light_on_dark: bool = False) -> np.ndarray:
    """Darkness of a whole grey image (tests and debugging; detect() computes it only where needed)."""
    if light_on_dark:
        gray = cv2.bitwise_not(gray)
    return darkness(gray, paper_map(gray))


def _merge_pieces(boxes: list[list[int]], members: list[list[int]], edge: list[bool], ref_h: float) -> None:
    """Fold small pieces into the digit they belong to, in place.

    A piece (at least a fifth of a digit long: specks are not pieces) is merged into a larger shape
    when it sits over or under it, most of its width inside the shape's columns, within a quarter of
    the shape's height.
    """
    order = sorted(range(len(boxes)), key=lambda i: boxes[i][3])  # smallest first
    alive = [True] * len(boxes)
    # Shapes that can take pieces, filed by column bands so a piece only meets its neighbours.
    band = max(1.0, ref_h)
    hosts: dict[int, list[int]] = {}
    for j, (X, _, W, H) in enumerate(boxes):
        if H >= 0.4 * ref_h:
            for b in range(int(X // band), int((X + W) // band) + 1):
                hosts.setdefault(b, []).append(j)
    for i in order:
        x, y, w, h = boxes[i]
        if h >= 0.75 * ref_h or max(w, h) < 0.2 * ref_h:
            continue
        best, best_gap = -1, 1e9
        near = {j for b in range(int(x // band), int((x + w) // band) + 1) for j in hosts.get(b, ())}
        for j in near:
            if j == i or not alive[j]:
                continue
            X, Y, W, H = boxes[j]
            if H < h:
                continue
            overlap = min(x + w, X + W) - max(x, X)
            if overlap < 0.5 * w:
                continue
            gap = max(Y - (y + h), y - (Y + H), 0)
            if gap <= 0.25 * H and (gap < best_gap or (gap == best_gap and j < best)):
                best, best_gap = j, gap
        if best >= 0:
            X, Y, W, H = boxes[best]
            nx, ny = min(x, X), min(y, Y)
            boxes[best] = [nx, ny, max(x + w, X + W) - nx, max(y + h, Y + H) - ny]
            members[best] += members[i]
            edge[best] = edge[best] or edge[i]
            alive[i] = False
    keep = [i for i in range(len(boxes)) if alive[i]]
    for lst in (boxes, members, edge):
        lst[:] = [lst[i] for i in keep]


def slant_of(shape: np.ndarray) -> float:
    """The slant of a binary shape (x shift per pixel down), from its second moments; 0 if slight."""
    m = cv2.moments(shape, binaryImage=True)
    if m["mu02"] <= 1e-6:
        return 0.0
    slant = -m["mu11"] / m["mu02"]
    return float(np.clip(slant, -0.6, 0.6)) if abs(slant) > 0.1 else 0.0


def sheared_columns(h: int, w: int, slant: float) -> np.ndarray:
    """For each pixel of an h x w box, its column once the slant is removed (int32)."""
    v = np.arange(h, dtype=np.float32)[:, None] - (h - 1) / 2
    u = np.arange(w, dtype=np.float32)[None, :]
    return np.floor(u + slant * v + 0.5).astype(np.int32)


def split_columns(shape: np.ndarray, slant: float = 0.0, max_digits: int = 3) -> tuple[list[int], int]:
    """Where a wide shape is thinnest across the writing direction (best first), and its width.

    Columns are counted after removing the slant, so the cut between two italic digits runs along
    the writing and not straight down through both of them.
    """
    h, w = shape.shape
    cols = sheared_columns(h, w, slant)
    first = int(cols.min())
    proj = np.bincount((cols - first).ravel(), weights=shape.ravel().astype(np.float32))
    nz = np.flatnonzero(proj)
    if nz.size == 0:
        return [], w
    proj = proj[nz[0] : nz[-1] + 1]
    first += int(nz[0])
    n = len(proj)
    proj = np.convolve(proj, np.ones(3) / 3, mode="same")
    lo, hi = max(1, int(n * 0.2)), min(n - 1, int(n * 0.8))
    if hi - lo < 3:
        return [], n
    mid = proj[lo:hi]
    valleys = lo + np.flatnonzero((mid <= proj[lo - 1 : hi - 1]) & (mid <= proj[lo + 1 : hi + 1]))
    picked: list[int] = []
    for c in valleys[np.argsort(proj[valleys], kind="stable")].tolist():
        if all(abs(c - p) > 0.25 * h for p in picked):
            picked.append(c)
            if len(picked) >= max_digits:
                break
    return [c + first for c in picked], n


def propose_cuts(cand: Candidate) -> None:
    """Fill in the candidate's slant, cut columns and slant-corrected width (done only for wide shapes)."""
    bx, by, bw, bh = cand.box
    x0, y0 = cand.origin
    inner = np.ascontiguousarray(cand.own[by - y0 : by - y0 + bh, bx - x0 : bx - x0 + bw])
    cand.slant = slant_of(inner)
    cand.cuts, cand.span = split_columns(inner, cand.slant)


def detect(frame: np.ndarray, cfg: DetectConfig | None = None) -> Detection:
    """Find digit candidates in a frame (any dtype or channels; see to_8bit).

    Shapes are found on a half-resolution copy (a 640x480 frame is searched at 320x240: four times
    fewer pixels to threshold and trace); each candidate's own pixels and darkness are then taken
    from the full-resolution frame, so the crops lose no detail.
    """
    cfg = cfg or DetectConfig()
    img = to_8bit(frame)
    h0, w0 = img.shape[:2]
    scale = min(1.0, cfg.work_long_side / max(h0, w0, 1))
    if scale < 1.0:
        img = cv2.resize(img, (max(1, round(w0 * scale)), max(1, round(h0 * scale))), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    if cfg.light_on_dark:
        gray = cv2.bitwise_not(gray)
    H, W = gray.shape
    f = 2 if max(H, W) >= HALF_FROM and min(H, W) >= 16 else 1
    gray_s = cv2.resize(gray, (W // f, H // f), interpolation=cv2.INTER_AREA) if f > 1 else gray
    paper_s = paper_map(gray_s)
    low = cfg.threshold * cfg.low_ratio
    # Ink: darker than (1 - low threshold) x the paper. No division over the whole frame: the
    # darkness itself is computed only inside the candidates' boxes.
    limit = cv2.convertScaleAbs(paper_s, alpha=1.0 - low)
    # Where the paper is dark (a shadow, a dim room) sensor noise is large next to it: ink must also
    # be darker than the paper by a few times the noise, or grain becomes "digits".
    floor = round(NOISE_SIGMAS * noise_sigma(gray_s))
    if floor > 0:
        limit = cv2.min(limit, cv2.subtract(paper_s, floor))
    mask = cv2.compare(gray_s, limit, cv2.CMP_LT)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    Hs, Ws = mask.shape
    min_h = max(cfg.min_height_px * scale, cfg.min_height_frac * min(H, W)) / f  # in search pixels
    max_h = cfg.max_height_frac * Hs
    lo, hi = round(255 * low), round(255 * cfg.threshold)

    # Keep shapes that could be a digit or a piece of one; everything else is noise or paper edge.
    least = max(2.0, 0.2 * min_h)
    boxes, members, edge = [], [], []
    for i, c in enumerate(contours):
        x, y, w, h = cv2.boundingRect(c)
        if h <= max_h and w <= 0.9 * Ws and max(w, h) >= least:
            boxes.append([x, y, w, h])
            members.append([i])
            edge.append(x <= 0 or y <= 0 or x + w >= Ws or y + h >= Hs)
    if len(boxes) > 2 * cfg.max_candidates:  # a page of text or a texture: keep the largest shapes
        keep = sorted(range(len(boxes)), key=lambda k: -boxes[k][2] * boxes[k][3])[: 2 * cfg.max_candidates]
        boxes, members, edge = [boxes[k] for k in keep], [members[k] for k in keep], [edge[k] for k in keep]
    # The typical digit height, from shapes clear of the border (a paper edge or shadow touches it).
    tall = [b[3] for b, e in zip(boxes, edge) if b[3] >= min_h and not e]
    ref_h = float(statistics.median(tall)) if tall else min_h
    _merge_pieces(boxes, members, edge, ref_h)
    # Again once the pieces are folded in: the pieces of one blotchy digit are not "the digits around".
    tall = [b[3] for b, e in zip(boxes, edge) if b[3] >= min_h and not e]
    ref_h = float(statistics.median(tall)) if tall else min_h

    candidates: list[Candidate] = []
    rejected = 0
    for (bx, by, bw, bh), mem, e in zip(boxes, members, edge):
        if bh < min_h or bh < 0.3 * ref_h:
            continue  # noise, a dot, a stray mark
        if len(tall) >= 3 and bh > 3 * ref_h:
            rejected += 1  # far taller than the digits around it: a shadow's edge, a fold, a rule
            continue
        if e and not (len(tall) >= 2 and 0.7 * ref_h <= bh <= 1.5 * ref_h):
            # Touching the border: a digit cut by the frame edge reads wrongly, and paper edges and
            # shadows touch it. Keep it only when it is as tall as the digits clear of the border.
            rejected += 1
            continue
        if bh / max(bw, 1) > cfg.max_aspect_tall or bw / bh > cfg.max_aspect_wide:
            rejected += 1
            continue
        cut = _cut_out(gray, paper_s, [contours[i] for i in mem], (bx, by, bw, bh), f, lo)
        if cut is None:
            rejected += 1
            continue
        cand, top = cut
        cw, ch = cand.box[2], cand.box[3]
        if ch < min_h * f * 0.7:  # at full resolution, little of it is really ink
            rejected += 1
            continue
        density = cand.area / float(cw * ch)
        if cw >= 0.35 * ch and not cfg.min_density <= density <= cfg.max_density:
            rejected += 1
            continue
        if top < hi:
            rejected += 1  # hysteresis: none of the shape is clearly ink (a shadow's soft edge)
            continue
        candidates.append(cand)
    if len(candidates) > cfg.max_candidates:
        candidates.sort(key=lambda c: -c.area)
        rejected += len(candidates) - cfg.max_candidates
        del candidates[cfg.max_candidates :]
    return Detection(scale, mask, candidates, rejected)


@jit
def _own_and_dark(gray, paper_s, shape, f, x0, y0, sx0, sy0, lo):  # pragma: no cover - compiled
    """Darkness and own-pixel mask of the working-resolution crop whose top left is (x0, y0).

    `shape` is the candidate's filled outline at 1/f resolution, its top left at (sx0, sy0); the
    paper comes from `paper_s` (1/f resolution too) by bilinear interpolation. A pixel is the
    candidate's own when its darkness passes `lo` and the outline, grown by one full-resolution
    pixel to cover rounding, covers it. Returns (own, dark, area, box, darkest).
    """
    rows, cols = gray.shape
    sh, sw = shape.shape
    ry0, ry1, ay = linear_axis(y0, rows, 1.0 / f, paper_s.shape[0])
    cx0, cx1, ax = linear_axis(x0, cols, 1.0 / f, paper_s.shape[1])
    # The outline at working resolution, grown by a pixel sideways, then up and down.
    up = np.zeros((rows, cols), np.uint8)
    for y in range(rows):
        u = (y0 + y) // f - sy0
        if 0 <= u < sh:
            for x in range(cols):
                v = (x0 + x) // f - sx0
                if 0 <= v < sw and shape[u, v]:
                    up[y, max(0, x - 1)] = 1
                    up[y, x] = 1
                    if x + 1 < cols:
                        up[y, x + 1] = 1
    dark = np.zeros((rows, cols), np.uint8)
    own = np.zeros((rows, cols), np.uint8)
    area, top = 0, 0
    by0, by1, bx0, bx1 = rows, -1, cols, -1
    c_lo, c_hi = cx0[0], cx1[cols - 1] + 1
    prow = np.empty(c_hi, np.float32)
    for y in range(rows):
        t = ay[y]
        for c in range(c_lo, c_hi):  # the paper along this row, at 1/f resolution
            prow[c] = paper_s[ry0[y], c] * (1.0 - t) + paper_s[ry1[y], c] * t
        for x in range(cols):
            s = ax[x]
            p = prow[cx0[x]] * (1.0 - s) + prow[cx1[x]] * s
            g = gray[y, x]
            if g >= p:
                continue
            d = min(255, int((p - g) * (255.0 / p) + 0.5))
            dark[y, x] = d
            if d > lo and (up[y, x] or (y > 0 and up[y - 1, x]) or (y + 1 < rows and up[y + 1, x])):
                own[y, x] = 1
                area += 1
                top = max(top, d)
                by0, by1, bx0, bx1 = min(by0, y), max(by1, y), min(bx0, x), max(bx1, x)
    return own, dark, area, (bx0, by0, bx1 - bx0 + 1, by1 - by0 + 1), top


def _cut_out(gray: np.ndarray, paper_s: np.ndarray, contours: list[np.ndarray], box: list[int] | tuple, f: int,
             lo: int) -> tuple[Candidate, int] | None:
    """A candidate's own pixels and darkness at working resolution, from its shape found at 1/f of it,
    and its darkest value (None if no pixel is ink)."""
    H, W = gray.shape
    bx, by, bw, bh = box
    x0, y0 = max(0, bx * f - 1), max(0, by * f - 1)
    x1, y1 = min(W, (bx + bw) * f + 1), min(H, (by + bh) * f + 1)
    sx0, sy0 = x0 // f, y0 // f
    shape = np.zeros((-(-y1 // f) - sy0, -(-x1 // f) - sx0), np.uint8)
    cv2.drawContours(shape, contours, -1, 1, cv2.FILLED, offset=(-sx0, -sy0))
    crop = np.ascontiguousarray(gray[y0:y1, x0:x1])
    own, dark, area, (x, y, w, h), top = _own_and_dark(crop, paper_s, shape, f, x0, y0, sx0, sy0, lo)
    if area == 0:
        return None
    return Candidate((x0 + x, y0 + y, w, h), (x0, y0), own, dark, area), top



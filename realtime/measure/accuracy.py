"""`python -m realtime.measure.accuracy`: how well the whole pipeline reads digits it was not tuned on.

    python -m realtime.measure.accuracy --photos ../shared/data/photos     # labelled camera photos
    python -m realtime.measure.accuracy --scenes 300                       # generated scenes (needs MNIST)
    python -m realtime.measure.accuracy --photos ../shared/data/photos --conditions   # + blur, noise, dim, turned...
    python -m realtime.measure.accuracy --wild                             # generated photos, per condition
    python -m realtime.measure.accuracy --redrawn 10000                    # what the wild pens' redrawing costs

All run the real Reader, frame by frame, and match its boxes to the truth: a box matches a true digit
when its centre lies inside the true box or the true centre inside it (labelled boxes are rough),
closest pair first. Reported: found (recall), extra boxes (precision), read right (digit accuracy over
all true digits: a missed or "?" digit counts as wrong), and lines read exactly.
Photos are reduced so that the longer side is at most 1280 px, like a webcam frame, and read as the
folder source reads them (sorted by name, each image on its own).
`--wild` generates camera-like frames of MNIST test digits for each capture condition of
realtime.measure.wild (ruled paper, thick marker, hard shadows, chalk on a board...) and reports each
condition on its own line: digits, found, read right, extra boxes (count and share of the digits).
`--redrawn N` reads N MNIST test digits with the network alone, as they are and as the wild pens
redraw them: what a wild condition's figures lose before any camera or reader is involved.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from realtime.ink import turning
from realtime.pipeline import Reader
from realtime.score import Score

WEBCAM_LONG_SIDE = 1280


def webcam_size(image: np.ndarray, long_side: int = WEBCAM_LONG_SIDE) -> tuple[np.ndarray, float]:
    """The image reduced so its longer side is at most `long_side` px, and the factor used."""
    s = min(1.0, long_side / max(image.shape[:2]))
    if s < 1.0:
        image = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return image, s


def _noise(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noisy = image + np.random.default_rng(seed).normal(0, sigma, image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _dim(image: np.ndarray) -> np.ndarray:
    return (image * 0.45).astype(np.uint8)


def _light_falling(image: np.ndarray) -> np.ndarray:
    ramp = np.linspace(1.0, 0.4, image.shape[1], dtype=np.float32)[None, :, None]
    return (image * ramp).astype(np.uint8)


DESK = (90, 90, 90)  # what a turned sheet's corners uncover


def _turned(degrees: float) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The photo turned `degrees` anticlockwise on a canvas large enough to hold all of it (a sheet
    held at an angle, the desk showing around it), and the 2x3 matrix that maps its pixels there."""
    def turn(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        view, size = turning(image.shape, degrees)
        return cv2.warpAffine(image, view, size, flags=cv2.INTER_LINEAR, borderValue=DESK), view
    return turn


def _box_through(box: tuple[float, float, float, float], view: np.ndarray) -> tuple[int, int, int, int]:
    """The box around `box`'s corners mapped through the 2x3 matrix `view`."""
    x, y, w, h = box
    p = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], np.float64) @ view[:, :2].T + view[:, 2]
    (x0, y0), (x1, y1) = p.min(0), p.max(0)
    return int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))


# Capture conditions the photos were not taken in, applied to each photo after it is reduced to
# webcam size: (long side in px, change to the image). A change that moves the digits returns the
# image and the 2x3 matrix that maps the reduced photo onto it.
CONDITIONS: dict[str, tuple[int, Callable[[np.ndarray], np.ndarray | tuple[np.ndarray, np.ndarray]]]] = {
    "as photographed": (WEBCAM_LONG_SIDE, lambda im: im),
    "640 px (a VGA webcam)": (640, lambda im: im),
    "out of focus (blur 1.5 px)": (WEBCAM_LONG_SIDE, lambda im: cv2.GaussianBlur(im, (0, 0), 1.5)),
    "JPEG quality 30": (WEBCAM_LONG_SIDE,
                        lambda im: cv2.imdecode(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 30])[1], 1)),
    "dim (x0.45)": (WEBCAM_LONG_SIDE, _dim),
    "light falling to 40 % across": (WEBCAM_LONG_SIDE, _light_falling),
    "sensor noise (sigma 12)": (WEBCAM_LONG_SIDE, lambda im: _noise(im, 12)),
    "dim + noise (sigma 8)": (WEBCAM_LONG_SIDE, lambda im: _noise(_dim(im), 8)),
    "heavy noise (sigma 20)": (WEBCAM_LONG_SIDE, lambda im: _noise(im, 20)),
    "sheet turned 10 degrees": (WEBCAM_LONG_SIDE, _turned(10)),
    "sheet turned -10 degrees": (WEBCAM_LONG_SIDE, _turned(-10)),
    "sheet turned 20 degrees": (WEBCAM_LONG_SIDE, _turned(20)),
    "sheet turned -20 degrees": (WEBCAM_LONG_SIDE, _turned(-20)),
}


def score_photos(reader: Reader, folder: Path, naive=None, condition: str = "as photographed",
                 ) -> tuple[Score, dict[str, dict]]:
    """Read every labelled photo in `folder` (labels.json); return the score and per-photo results.

    `naive`: a bench.NaiveReader to score instead of the Reader (for comparison). `condition`: one of
    CONDITIONS, to see how the reading holds up under capture conditions these photos lack.
    """
    long_side, change = CONDITIONS[condition]
    labels = json.loads((folder / "labels.json").read_text())
    score, per = Score(), {}
    for name in sorted(labels):
        lab = labels[name]
        image = cv2.imread(str(folder / name))
        if image is None:
            raise OSError(f"cannot read {folder / name}")
        small, s = webcam_size(image, long_side)
        small = change(small)
        small, view = small if isinstance(small, tuple) else (small, None)
        if naive is None:
            res = reader.read(small, still=True)
            found, symbols, lines = [d.box for d in res.digits], [d.symbol for d in res.digits], res.lines
        else:
            read = naive.read(small)
            found, symbols, lines = [b for b, _ in read], [str(d) for _, d in read], []
        truth = [tuple(b) for b in lab["boxes"]]
        if view is None:  # boxes compared in the photo's own pixels
            boxes = [tuple(int(round(v / s)) for v in b) for b in found]
        else:  # ... or in the changed image's, the labelled boxes (rough anyway) mapped there
            boxes, truth = found, [_box_through(tuple(v * s for v in b), view) for b in truth]
        one = Score()
        for sc in (score, one):
            sc.add(name, boxes, symbols, truth, [int(c) for c in lab["digits"]], lines, lab["rows"])
        per[name] = {**one.summary(), "read": lines, "truth": lab["rows"]}
    return score, per


def score_scenes(reader: Reader, scenes, still: bool = True) -> Score:
    score = Score()
    for k, sc in enumerate(scenes):
        res = reader.read(sc.image, still=still)
        score.add(f"scene {k}", [d.box for d in res.digits], [d.symbol for d in res.digits],
                  [t.box for t in sc.digits], [t.digit for t in sc.digits], res.lines, sc.lines)
    return score


def score_wild(reader: Reader, digits, conditions: list[str], per: int, seed: int = 0,
               examples: Path | None = None) -> tuple[dict[str, Score], float, float]:
    """Read `per` generated frames of each condition; the score per condition and the seconds spent
    generating and reading. With `examples`, the first frames of each condition are written there as
    PNGs with their truth drawn."""
    from realtime.measure.wild import draw_truth, iter_wild

    scores: dict[str, Score] = {}
    make_s = read_s = 0.0
    for name in conditions:
        frames = iter_wild(name, per, digits, seed)
        score = Score()
        for k in range(per):
            t0 = time.perf_counter()
            sc = next(frames)
            t1 = time.perf_counter()
            res = reader.read(sc.image, still=True)
            read_s += time.perf_counter() - t1
            make_s += t1 - t0
            score.add(f"{name} #{k}", [d.box for d in res.digits], [d.symbol for d in res.digits],
                      [t.box for t in sc.digits], [t.digit for t in sc.digits], res.lines, sc.lines)
            score.add_hidden(res.extra.get("dropped", []), [t.box for t in sc.digits])
            if examples is not None and k < EXAMPLES:
                examples.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(examples / f"{_slug(name)}_{k}.png"), draw_truth(sc))
        scores[name] = score
    return scores, make_s, read_s


EXAMPLES = 3  # frames per condition that --save-examples writes


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def wild_summary(score: Score) -> dict:
    s = score.summary()
    return {**s, "extra_pct": round(100.0 * s["extra"] / max(1, s["digits"]), 2)}


def total_score(scores) -> Score:
    """The scores added up (errors left out)."""
    total = Score()
    for score in scores:
        total.add_counts(score)
    return total


def report_wild(scores: dict[str, Score], per: int, make_s: float, read_s: float) -> None:
    """One line per condition, then the total."""
    width = max(len(n) for n in [*scores, "condition"])
    print(f"wild scenes, {per} frames per condition")
    print(f"{'condition':{width}s}  digits  found %  read right %  extra boxes (n, % of digits)  "
          "non-digits hidden (% of all read)")
    for name, score in [*scores.items(), ("total", total_score(scores.values()))]:
        s = wild_summary(score)
        print(f"{name:{width}s}  {s['digits']:6d}  {s['recall']:7.1f}  {s['accuracy']:12.1f}  "
              f"{s['extra']:5d} ({s['extra_pct']:4.1f} %)           {s['non_digits_hidden']:5d} "
              f"({s['non_digits_rejected']:.1f} %)")
    frames = per * len(scores)
    print(f"generated {frames} frames in {make_s:.1f} s, read them in {read_s:.1f} s")


def report(what: str, score: Score, errors: bool) -> None:
    s = score.summary()
    print(f"{what}: {s['digits']} digits: found {s['recall']} %, read right {s['accuracy']} %, "
          f"{s['extra']} extra boxes (precision {s['precision']} %), {s['lines_exact']}/{s['lines']} lines exact")
    if errors:
        print("\n".join(score.errors))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m realtime.measure.accuracy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=Path, help="folder of photos with labels.json")
    p.add_argument("--scenes", type=int, default=0, help="number of generated scenes to read")
    p.add_argument("--data-dir", help="MNIST folder for the scenes' digits (default: $DIGITCAM_DATA)")
    p.add_argument("--weights", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--errors", action="store_true", help="list every miss and misread")
    p.add_argument("--naive", action="store_true",
                   help="score the tutorial-style pipeline (Otsu, boxes stretched to 28x28) on the photos instead")
    p.add_argument("--conditions", action="store_true",
                   help="read the photos again under each capture condition of CONDITIONS (blur, noise, dim...)")
    p.add_argument("--wild", action="store_true",
                   help="read generated photos of each capture condition (realtime.measure.wild; needs MNIST)")
    p.add_argument("--per", type=int, default=40, help="--wild: frames per condition (default 40)")
    p.add_argument("--condition", action="extend", nargs="+", metavar="NAME",
                   help="--wild: only these conditions (default: all, in order)")
    p.add_argument("--save-examples", type=Path, metavar="DIR",
                   help=f"--wild: write the first {EXAMPLES} frames of each condition there, truth drawn")
    p.add_argument("--redrawn", type=int, default=0, metavar="N",
                   help="the network on N MNIST test digits as they are and as the --wild pens redraw them, "
                        "with no camera: how much the redrawing alone changes the digits")
    p.add_argument("--json", action="store_true")
    return p


REDRAW_PENS = (0.03, 0.06, 0.12, 0.2)  # pen widths as shares of the digit's height: hairline to marker


def score_redrawn(reader: Reader, digits, n: int, seed: int = 0) -> dict[str, float]:
    """Read right (%) of `n` MNIST test digits as they are, and redrawn by the wild benchmark's pen
    (wild.restroke: the strokes' centre lines drawn again at each REDRAW_PENS width, 100 px tall) and
    made into the network's input (from_crop), with no camera. What the redrawn ones lose is lost
    before the reader sees a frame: a loop its writer filled in thins to a line (an 8 becomes a 9)."""
    from realtime.measure.wild import restroke
    from train.mnist_spec import from_crop

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(digits.labels), min(n, len(digits.labels)), replace=False)
    truth = digits.labels[pick]
    raw = reader.backend.predict(digits.images[pick].astype(np.float32) / 255).argmax(1)
    out = {"as they are": round(100.0 * float(np.mean(raw == truth)), 2)}
    for pen in REDRAW_PENS:
        images = np.stack([from_crop(restroke(digits.ink(int(i)), 100.0, 100.0 * pen, rng).astype(np.float32))
                           for i in pick])
        read = reader.backend.predict(images).argmax(1)
        out[f"redrawn, pen {pen:.0%} of the height"] = round(100.0 * float(np.mean(read == truth)), 2)
    return out


def _photos(args: argparse.Namespace, reader: Reader, out: dict) -> None:
    naive = None
    if args.naive:
        from realtime.measure.bench import NaiveReader
        from realtime.reader import DEFAULT_WEIGHTS
        from train.checkpoint import load_weights

        naive = NaiveReader(load_weights(args.weights or DEFAULT_WEIGHTS))
    score, per = score_photos(reader, args.photos, naive)
    out["photos"] = {**score.summary(), "per_photo": per}
    if not args.json:
        for name, r in per.items():
            print(f"{name:34s} {r['found']:3d}/{r['digits']:3d} found  {r['read_right']:3d} right  "
                  f"{r['extra']:2d} extra")
        report("photos", score, args.errors)
    if args.conditions:
        out["conditions"] = {}
        for name in CONDITIONS:
            r = score_photos(reader, args.photos, condition=name)[0].summary()
            out["conditions"][name] = r
            if not args.json:
                print(f"  {name:30s} found {r['recall']:6.2f} %  read right {r['accuracy']:6.2f} %  "
                      f"{r['extra']:3d} extra")


def _scenes(args: argparse.Namespace, reader: Reader, out: dict) -> None:
    from realtime.measure.scene import MnistDigits, make_scene

    rng = np.random.default_rng(args.seed)
    digits = MnistDigits.test_set(args.data_dir)
    score = score_scenes(reader, (make_scene(rng, digits) for _ in range(args.scenes)))
    out["scenes"] = score.summary()
    if not args.json:
        report(f"scenes ({args.scenes} frames)", score, args.errors)


def _wild(args: argparse.Namespace, reader: Reader, out: dict) -> None:
    from realtime.measure.scene import MnistDigits
    from realtime.measure.wild import CONDITIONS as WILD

    digits = MnistDigits.test_set(args.data_dir)
    names = [c for c in WILD if c in args.condition] if args.condition else list(WILD)
    scores, make_s, read_s = score_wild(reader, digits, names, args.per, args.seed, args.save_examples)
    out["wild"] = {"per": args.per, "seed": args.seed, "generate_s": round(make_s, 2), "read_s": round(read_s, 2),
                   "conditions": {n: wild_summary(s) for n, s in scores.items()},
                   "total": wild_summary(total_score(scores.values()))}
    if not args.json:
        report_wild(scores, args.per, make_s, read_s)
        if args.errors:
            print("\n".join(e for s in scores.values() for e in s.errors))


def _redrawn(args: argparse.Namespace, reader: Reader, out: dict) -> None:
    from realtime.measure.scene import MnistDigits

    r = score_redrawn(reader, MnistDigits.test_set(args.data_dir), args.redrawn, args.seed)
    out["redrawn"] = {"digits": args.redrawn, **r}
    if not args.json:
        print(f"{args.redrawn} MNIST test digits, read right with no camera:")
        for name, v in r.items():
            print(f"  {name:32s} {v:6.2f} %")


def main(argv: list[str] | None = None) -> int:
    from realtime.reader import build_reader  # the same reader the app builds

    p = _parser()
    args = p.parse_args(argv)
    if args.conditions and not args.photos:
        p.error("--conditions goes with --photos DIR")
    if not args.photos and not args.scenes and not args.wild and not args.redrawn:
        p.error("give --photos DIR, --scenes N, --wild and/or --redrawn N")
    if args.condition:
        from realtime.measure.wild import CONDITIONS as WILD

        unknown = [c for c in args.condition if c not in WILD]
        if unknown:
            p.error(f"unknown condition {unknown[0]!r}; one of: {', '.join(WILD)}")
    reader, _ = build_reader(args.weights, "cpu")
    out: dict = {}
    try:
        for wanted, run in ((args.photos, _photos), (args.scenes, _scenes), (args.wild, _wild),
                            (args.redrawn, _redrawn)):
            if wanted:
                run(args, reader, out)
    except Exception as e:  # a missing data set or unreadable photo: say which, without a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

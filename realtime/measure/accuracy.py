"""`python -m realtime.measure.accuracy`: how well the whole pipeline reads digits it was not tuned on.

    python -m realtime.measure.accuracy --photos ../shared/data/photos     # labelled camera photos
    python -m realtime.measure.accuracy --scenes 300                       # generated scenes (needs MNIST)
    python -m realtime.measure.accuracy --photos ../shared/data/photos --conditions   # + blur, noise, dim light...

Both run the real Reader, frame by frame, and match its boxes to the truth: a box matches a true digit
when its centre lies inside the true box or the true centre inside it (labelled boxes are rough),
closest pair first. Reported: found (recall), extra boxes (precision), read right (digit accuracy over
all true digits: a missed or "?" digit counts as wrong), and lines read exactly.
Photos are reduced so that the longer side is at most 1280 px, like a webcam frame, and read as the
folder source reads them (sorted by name, each image on its own).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

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


# Capture conditions the photos were not taken in, applied to each photo after it is reduced to
# webcam size: (long side in px, change to the image).
CONDITIONS: dict[str, tuple[int, Callable[[np.ndarray], np.ndarray]]] = {
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
        if naive is None:
            res = reader.read(small, still=True)
            found, symbols, lines = [d.box for d in res.digits], [d.symbol for d in res.digits], res.lines
        else:
            read = naive.read(small)
            found, symbols, lines = [b for b, _ in read], [str(d) for _, d in read], []
        boxes = [tuple(int(round(v / s)) for v in b) for b in found]
        one = Score()
        for sc in (score, one):
            sc.add(name, boxes, symbols, [tuple(b) for b in lab["boxes"]], [int(c) for c in lab["digits"]], lines,
                   lab["rows"])
        per[name] = {**one.summary(), "read": lines, "truth": lab["rows"]}
    return score, per


def score_scenes(reader: Reader, scenes, still: bool = True) -> Score:
    score = Score()
    for k, sc in enumerate(scenes):
        res = reader.read(sc.image, still=still)
        score.add(f"scene {k}", [d.box for d in res.digits], [d.symbol for d in res.digits],
                  [t.box for t in sc.digits], [t.digit for t in sc.digits], res.lines, sc.lines)
    return score


def report(what: str, score: Score, errors: bool) -> None:
    s = score.summary()
    print(f"{what}: {s['digits']} digits: found {s['recall']} %, read right {s['accuracy']} %, "
          f"{s['extra']} extra boxes (precision {s['precision']} %), {s['lines_exact']}/{s['lines']} lines exact")
    if errors:
        print("\n".join(score.errors))


def main(argv: list[str] | None = None) -> int:
    from realtime.reader import build_reader  # the same reader the app builds

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
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.conditions and not args.photos:
        p.error("--conditions goes with --photos DIR")
    if not args.photos and not args.scenes:
        p.error("give --photos DIR and/or --scenes N")
    reader, _ = build_reader(args.weights, "cpu")
    out: dict = {}
    try:
        if args.photos:
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
        if args.scenes:
            from realtime.measure.scene import MnistDigits, make_scene

            rng = np.random.default_rng(args.seed)
            digits = MnistDigits.test_set(args.data_dir)
            score = score_scenes(reader, (make_scene(rng, digits) for _ in range(args.scenes)))
            out["scenes"] = score.summary()
            if not args.json:
                report(f"scenes ({args.scenes} frames)", score, args.errors)
    except Exception as e:  # a missing data set or unreadable photo: say which, without a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

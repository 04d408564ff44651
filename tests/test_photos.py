"""Real camera photos: every labelled photo in ../shared/data/photos read as the folder source reads it.

37 photos by 14 writers: marker, pencil, ruled and squared paper, one big digit, printed text beside
the writing, webcam frames. The margins under the figures the README reports leave room for a digit
or two of noise, not for a mechanism that breaks on one kind of photo.
"""

from __future__ import annotations

from realtime.measure.accuracy import score_photos


def test_all_photos_are_read(reader, photos_dir):
    score, per = score_photos(reader, photos_dir)
    s = score.summary()
    assert s["digits"] >= 500, s
    assert s["accuracy"] >= 97.0, (s, score.errors)
    assert s["extra"] <= 10, (s, {name: r["extra"] for name, r in per.items() if r["extra"]})
    # No kind of photo is left behind: each photo reads at least half its digits.
    assert all(r["read_right"] >= r["digits"] / 2 for r in per.values()), per

"""digitcam's live tool: capture -> detect -> normalise -> classify -> track -> draw (`python -m realtime.cam`)."""

import os
import sys
import time

#: When the package was first imported: the live tool's start-up time (to the first frame) counts from here.
STARTED = time.perf_counter()

if sys.platform == "win32":
    # Media Foundation's hardware transforms make opening a webcam take 10-30 s on many Windows machines;
    # OpenCV reads this before its first capture. (DirectShow, tried first, does not need it.)
    os.environ.setdefault("OPENCV_VIDEOIO_MSMF_ENABLE_HW_TRANSFORMS", "0")

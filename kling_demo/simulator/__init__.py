"""A local simulator of the AI/ML API's Kling image-to-video endpoints, served over real HTTP.

    from kling_demo.simulator import Simulator, SimulatorConfig
    with Simulator(SimulatorConfig(data_dir=path, queue_seconds=0.2, generate_seconds=0.5)) as sim:
        base_url = sim.base_url          # http://127.0.0.1:PORT/v2

Routes (base path /v2): POST create and GET poll on /v2/video/generations and the legacy
/v2/generate/video/kling/generation; finished videos on /v2/_sim/videos/<name>.mp4 (Range
supported). Control routes, no auth: GET /_sim/stats, POST /_sim/faults, GET|POST /_sim/config
(also under /v2/_sim/...).

Tasks go queued -> generating -> completed (or error) by wall-clock time, are persisted under
data_dir, and are finished by any later Simulator on the same data_dir. The video is a real H.264
MP4 made from the input image with a slow camera move (cross-fading to the end frame if one was sent).

Prompt tokens, for tests and demos:
    [sim:error]          the task ends in status "error" (shapes alternate between
                         {"name", "message"} and {"detail": [{"loc", "msg", "type"}]})
    [sim:error=message]  ... always with {"name": "GenerationError", "message": ...}
    [sim:error=detail]   ... always with {"detail": [{"msg": "Could not detect face in the image", ...}]}
    [sim:slow=N]         generating lasts N seconds (a float) instead of generate_seconds

Faults (Simulator.inject or POST /_sim/faults, consumed first in first out per target):
"500", "502", "503", "429" (Retry-After: retry_after, default 1), "drop" (hang up without an
answer), "slow" (sleep seconds, default 2, then answer), "malformed" (200 with non-JSON, then with
JSON lacking status, alternating), "task_error" (create only: the next created task fails).
A faulted create creates no task. fault_rate adds random faults to polls only.
"""

from __future__ import annotations

from .config import SimulatorConfig
from .recording import RecordedRequest
from .server import Simulator

__all__ = ["RecordedRequest", "Simulator", "SimulatorConfig"]

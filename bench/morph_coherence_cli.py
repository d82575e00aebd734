"""What ``morph --coherence`` adds to a morph from the command line.

    python bench/morph_coherence_cli.py

The bundled cat photo at 256x256 (``pyramid-kernels photos``), EfficientNet-Lite0 toward its
runner-up class at its 224x224 input, 11 steps, csp phase: the command alone, with
``--coherence`` (E of the last frame, warp only and warp + gain) and with
``--coherence-every-frame``, each run three times in a fresh process one after the other
(2 threads, nothing else running); the median wall time. Target (issue 43): ``--coherence``
adds at most about 30%. Writes bench/results/morph-coherence-cli.md.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3


def main() -> None:
    import pyramid_kernels as pk
    from pyramid_kernels.io.image_files import load_image
    from pyramid_kernels.io.image_io import save_png

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "cat.png"
        pk.data.save_photos(tmp, ["cat"])
        save_png(photo, load_image(photo, size=256)[0])
        base = [sys.executable, "-m", "pyramid_kernels", "morph", str(photo)]
        base += ["--model", "imagenet-lite0", "--target", "runner-up"]
        seconds = {}
        for label, extra in [
            ("morph", []),
            ("morph --coherence", ["--coherence"]),
            ("morph --coherence-every-frame", ["--coherence-every-frame"]),
        ]:
            times = []
            for run in range(RUNS):
                out = Path(tmp) / f"out{run}.png"
                start = time.perf_counter()
                subprocess.run([*base, *extra, "--out", str(out)], check=True, capture_output=True)
                times.append(time.perf_counter() - start)
            seconds[label] = statistics.median(times)
            added = seconds[label] / seconds["morph"] - 1
            rows.append(
                f"| `{label}` | {' / '.join(f'{t:.1f}' for t in times)} | "
                f"{seconds[label]:.1f} | {100 * added:+.0f}% |"
            )
            print(rows[-1], flush=True)
    lines = [
        "# What `morph --coherence` adds",
        "",
        "`python bench/morph_coherence_cli.py` (2-core CPU, nothing else running): "
        "`pyramid-kernels morph cat.png --model imagenet-lite0 --target runner-up` on the "
        "bundled cat photo at 256x256 (read at the model's 224x224), 11 steps, csp phase; "
        f"{RUNS} runs each in a fresh process (the import and the model load included).",
        "",
        "| command | runs (s) | median (s) | added to the morph |",
        "|---|---|---|---|",
        *rows,
    ]
    out = ROOT / "bench" / "results" / "morph-coherence-cli.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

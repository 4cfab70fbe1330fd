"""Time create_app(): the first call (imports included) and later rebuilds."""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(rebuilds=20):
    started = time.perf_counter()
    from app import create_app

    create_app({"SECRET_KEY": "bench"})
    cold = time.perf_counter() - started

    timings = []
    for _ in range(rebuilds):
        started = time.perf_counter()
        create_app({"SECRET_KEY": "bench"})
        timings.append(time.perf_counter() - started)
    print(f"create_app() first call incl. imports: {cold * 1000:.0f} ms")
    print(
        f"create_app() rebuild: median {statistics.median(timings) * 1000:.0f} ms, "
        f"max {max(timings) * 1000:.0f} ms over {rebuilds}"
    )


if __name__ == "__main__":
    main()

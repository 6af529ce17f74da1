"""Image validation throughput (issue 5, item 8): the old path versus one cached, threaded scan.

On the 2,000 textile JPEGs (250x250 RGB, conformal-clip-data) times
- `old`: what validation cost before: every file decoded to check it, then decoded again, one at a time,
  for the content hash of the folds (`_image_problem` + `image_hashes` as they were);
- `scan_1_thread`: `scan_images` with an empty cache and one decoding thread (one decode per file);
- `scan_first_run`: `scan_images` with an empty cache and `--workers` threads (default `scan_workers()`);
- `scan_cached_rerun`: `scan_images` again, every result read from the cache (0 files decoded).
And the 60k in-memory Fashion-MNIST train split: the old per-row `image_hashes` versus `scan_images`.
Each is run `--repeats` times (OS file cache warm: the files are read once before timing).

    python params/bench/scan_images.py [--repeats 3] [--workers 0] [--out paper/bench/scan_images.json]
"""
import argparse, hashlib, json, os, platform, statistics, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, PIL
from PIL import Image, ImageFile
import visionlab
from visionlab.data import textile, get_task, load_image, scan_images, scan_workers, CACHE_FILE


def old_path(paths):
    "Validation then hashing as before item 8: two sequential decodes per file."
    for p in paths:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        with Image.open(p) as im: im.load()
    return [hashlib.sha1(np.ascontiguousarray(np.asarray(Image.open(p).convert('RGB'))).tobytes()).hexdigest() for p in paths]


def old_in_memory(td):
    "The old `image_hashes` of an in-memory split: one `load_image` per table row."
    return [hashlib.sha1(np.ascontiguousarray(load_image(td, 'train', r)).tobytes()).hexdigest() for _, r in td.train.iterrows()]


def timed(f, repeats, before=lambda: None):
    "Seconds of `repeats` calls of `f` (each after `before`), and the last result."
    ts = []
    for _ in range(repeats):
        before(); t = time.perf_counter(); out = f(); ts.append(time.perf_counter() - t)
    return ts, out


def cpu_model():
    "CPU model name from /proc/cpuinfo (else the platform's)."
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()


def row(ts, n):
    med = statistics.median(ts)
    return dict(runs=len(ts), seconds=[round(t, 3) for t in ts], median_s=round(med, 3),
                images_per_s=round(n / med, 1), images_per_s_min=round(n / max(ts), 1), images_per_s_max=round(n / min(ts), 1))


def main(repeats=3, workers=0, out='paper/bench/scan_images.json'):
    td = textile(); paths = [str(td.root/p) for p in td.train.path]; n = len(paths)
    for p in paths: Path(p).read_bytes()                                                    # warm the OS file cache
    cache = Path(tempfile.mkdtemp())/CACHE_FILE; empty = lambda: cache.unlink(missing_ok=True)
    w = workers or scan_workers(); res = {}
    ts, old_h = timed(lambda: old_path(paths), repeats); res['old'] = row(ts, n)
    ts, _ = timed(lambda: scan_images(td, cache=cache, workers=1, progress=False), repeats, empty); res['scan_1_thread'] = row(ts, n)
    ts, first = timed(lambda: scan_images(td, cache=cache, workers=w, progress=False), repeats, empty); res['scan_first_run'] = row(ts, n)
    ts, again = timed(lambda: scan_images(td, cache=cache, workers=w, progress=False), repeats); res['scan_cached_rerun'] = row(ts, n)
    assert first.hash.tolist() == old_h == again.hash.tolist() and again.attrs['decoded'] == 0 and first.attrs['decoded'] == n
    fm = get_task('fashion_mnist'); m = len(fm.train)
    ts, old_m = timed(lambda: old_in_memory(fm), 1); res['fmnist60k_old'] = row(ts, m)
    ts, new_m = timed(lambda: scan_images(fm), repeats); res['fmnist60k_scan'] = row(ts, m)
    assert new_m.hash.tolist() == old_m
    info = dict(images=n, image='250x250 RGB JPEG (textile, conformal-clip-data)', workers=w, repeats=repeats,
                cpu=cpu_model(), cores=os.cpu_count(), usable_cores=len(os.sched_getaffinity(0)),
                versions=dict(python=platform.python_version(), pillow=PIL.__version__, numpy=np.__version__,
                              pandas=pd.__version__, visionlab=visionlab.__version__),
                note='OS file cache warm; other processes may share the cores', results=res)
    Path(out).parent.mkdir(parents=True, exist_ok=True); Path(out).write_text(json.dumps(info, indent=2) + '\n')
    for k, v in res.items(): print(f"{k:18s} {v['images_per_s']:>10.1f} images/s  (median of {v['runs']}: {v['median_s']} s)")
    return info


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeats', type=int, default=3); ap.add_argument('--workers', type=int, default=0)
    ap.add_argument('--out', default='paper/bench/scan_images.json')
    main(**vars(ap.parse_args()))

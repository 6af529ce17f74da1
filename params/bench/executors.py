"""Local executor against SLURM on this machine: submit-to-result latency of a trivial run, and a whole grid.

Starts a throw-away single-node SLURM (tests/slurm_cluster.sh, needs root and the Debian packages), then measures
1. a trivial Python function through submitit (submit -> result), against the same call in a local subprocess;
2. a trivial run (`vlab run` of a one-run digits study: 1 epoch at 8 px, refit only), local vs `--executor slurm`;
3. a whole grid (default params/quickstart.yaml), local with 2 workers vs SLURM with 2 array tasks at once;
each in a fresh runs folder, and writes paper/bench/executors.json. Stops every daemon it started.

    python params/bench/executors.py [--study params/quickstart.yaml] [--repeats 3] [--out paper/bench/executors.json]
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[2]
VLAB = str(Path(sys.executable).parent/'vlab')


def timed(cmd, **kw):
    t = time.time(); subprocess.run(cmd, check=True, capture_output=True, text=True, **kw); return time.time() - t


def trivial():   # the function submitted (module level: submitit pickles it by reference)
    return 1


def main(study, repeats, out):
    import submitit
    d = Path(tempfile.mkdtemp(prefix='vlab-slurm-'))
    env = {**os.environ, 'PATH': os.environ['PATH'] + ':/usr/sbin:/sbin'}
    subprocess.run(['bash', ROOT/'tests'/'slurm_cluster.sh', 'start', d], check=True, env=env, capture_output=True, text=True)
    os.environ['SLURM_CONF'] = str(d/'slurm.conf'); res = dict(machine=f'{os.cpu_count()} CPU cores', repeats=repeats)
    try:
        ex = submitit.SlurmExecutor(folder=d/'jobs'/'%j'); ex.update_parameters(time=5, cpus_per_task=1)
        sl, lo = [], []
        for _ in range(repeats):
            t = time.time(); assert ex.submit(trivial).result() == 1; sl.append(time.time() - t)
            lo.append(timed([sys.executable, '-c', 'pass']))
        res['trivial_function_s'] = dict(slurm=sl, local_subprocess=lo)
        one = d/'one.yaml'
        one.write_text('study: one\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: 0\nrefit: true\n'
                       'recipe: {epochs: 1, img_size: 8, batch_size: 256, robust: []}\nslurm: {time_min: 5}\n')
        runs = {'local': [], 'slurm': []}
        for i in range(repeats):
            for how in runs:
                runs[how].append(timed([VLAB, 'run', one, '--runs', d/f'one_{how}_{i}', '--executor', how], cwd=ROOT))
        res['trivial_run_s'] = runs
        s = yaml.safe_load(Path(study).read_text()); s['slurm'] = {'time_min': 30, 'max_running': 2, 'cpus_per_task': 1}
        grid = d/'grid.yaml'; grid.write_text(yaml.safe_dump(s))
        res['grid'] = dict(study=str(study), runs=None,
                           local_2_workers_s=timed([VLAB, 'run', grid, '--runs', d/'grid_local', '--workers', '2', '--executor', 'local'], cwd=ROOT),
                           slurm_2_at_once_s=timed([VLAB, 'run', grid, '--runs', d/'grid_slurm', '--executor', 'slurm'], cwd=ROOT))
        res['grid']['runs'] = sum(1 for _ in (d/'grid_local').rglob('DONE'))
    finally:
        subprocess.run(['bash', ROOT/'tests'/'slurm_cluster.sh', 'stop', d], env=env)
    Path(out).parent.mkdir(parents=True, exist_ok=True); Path(out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--study', default=str(ROOT/'params'/'quickstart.yaml')); ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--out', default=str(ROOT/'paper'/'bench'/'executors.json'))
    a = ap.parse_args(); main(a.study, a.repeats, a.out)

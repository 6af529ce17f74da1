"""An interrupted grid never leaves a run marked done that is not, and a rerun redoes only the unfinished runs."""
import os, signal, subprocess, time
from pathlib import Path
import pandas as pd
from conftest import VLAB, vlab, write_study

STUDY = "study: resume\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: 3\nrecipe: {epochs: 2, img_size: 8, batch_size: 64}\n"


def wait_for(cond, timeout=240, what=''):
    t0 = time.time()
    while not cond():
        assert time.time() - t0 < timeout, f'timed out waiting for {what}'
        time.sleep(0.2)
    return cond()


def fold_dirs(sd): return sorted(p.name for p in (sd/'digits/cnn_small/base').glob('fold*'))


def test_killed_worker_is_redone_alone(tmp_path):
    p, sd = write_study(tmp_path, STUDY), tmp_path/'runs/resume'
    grid = subprocess.Popen([VLAB, 'run', p, '--runs', tmp_path/'runs'], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = sd/'digits/cnn_small/base'
    wait_for(lambda: (base/'fold0/DONE').exists(), what='fold0 done')
    pidfile = wait_for(lambda: next(iter(base.glob('.fold1.partial-*/worker.pid')), None), what='fold1 started')
    time.sleep(0.5)                                     # mid-run: a warm run is past its start within a second
    os.killpg(int(pidfile.read_text().split()[0]), signal.SIGKILL)  # kill the worker running fold1 (worker.pid: "pid host slurm-job")
    out, err = grid.communicate(timeout=300)
    assert grid.returncode != 0 and '1 run(s) failed' in err
    assert fold_dirs(sd) == ['fold0', 'fold2']             # fold1 is not marked done
    done0 = (base/'fold0/DONE').stat().st_mtime
    r = vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    s = pd.read_csv(sd/'grid_summary.csv')
    assert s.status.tolist() == ['skipped', 'done', 'skipped'], s
    assert (base/'fold0/DONE').stat().st_mtime == done0 and fold_dirs(sd) == ['fold0', 'fold1', 'fold2']
    assert not list(base.glob('.fold1.partial-*'))


def test_interrupted_grid_resumes(tmp_path):
    "SIGTERM (or Ctrl-C) on the grid stops every worker; nothing half-done is kept as done."
    p, sd = write_study(tmp_path, STUDY.replace('folds: 3', 'folds: 2')), tmp_path/'runs/resume'
    grid = subprocess.Popen([VLAB, 'run', p, '--runs', tmp_path/'runs'], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = sd/'digits/cnn_small/base'
    wait_for(lambda: next(iter(base.glob('.fold0.partial-*/worker.pid')), None), what='fold0 started')
    time.sleep(0.5); grid.send_signal(signal.SIGTERM); _, err = grid.communicate(timeout=120)
    assert grid.returncode == 130 and 'interrupted' in err and 'Traceback' not in err and fold_dirs(sd) == []
    vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    assert fold_dirs(sd) == ['fold0', 'fold1'] and not list(base.glob('.*partial*'))

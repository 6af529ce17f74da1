"""Executors: the local one hands each worker its own GPU id; the SLURM one runs a real digits grid through a throw-away
single-node SLURM cluster (tests/slurm_cluster.sh), survives a cancelled array task, and Ctrl-C cancels only its array."""
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest
from conftest import vlab, write_study, TINY, VLAB
from visionlab.grid import read_jobs, slurm_states, study_status

SCRIPT = Path(__file__).parent/'slurm_cluster.sh'
DAEMONS = ('munged', 'slurmctld', 'slurmd', 'slurmdbd', 'mariadbd', 'sbatch', 'sacct')


def _which(b): return shutil.which(b) or next((str(Path(d)/b) for d in ('/usr/sbin', '/sbin') if (Path(d)/b).exists()), None)


def test_local_gpus_one_per_worker(tmp_path):
    "With GPU ids 0,1 and 2 workers, the two runs that start together get different GPUs, recorded in env.json; vlab status says done."
    p = write_study(tmp_path, "study: g\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: 2\n" + TINY)
    r = vlab('run', p, '--workers', 2, '--gpus', '0,1', '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    seen = [json.loads((tmp_path/'runs'/'g'/'digits'/'cnn_small'/'base'/f'fold{k}'/'env.json').read_text())['cuda_visible_devices'] for k in (0, 1)]
    assert sorted(seen) == ['0', '1'], seen
    r = vlab('run', p, '--workers', 2, '--gpus', '3', '--runs', tmp_path/'runs2', cwd=tmp_path, check=True)
    assert '1 GPU(s): 1 worker(s), one run per GPU' in r.stdout
    assert {json.loads(f.read_text())['cuda_visible_devices'] for f in (tmp_path/'runs2').rglob('env.json')} == {'3'}
    st = vlab('status', tmp_path/'runs'/'g', check=True).stdout
    assert '2 done' in st, st


@pytest.fixture(scope='module')
def slurm(tmp_path_factory):
    "A single-node SLURM with accounting, started for this module and stopped by PID after it (skips where it cannot start)."
    if os.geteuid() != 0: pytest.skip('SLURM: starting a throw-away cluster needs root (slurmd runs jobs as their user)')
    missing = [b for b in DAEMONS if not _which(b)]
    if missing: pytest.skip(f"SLURM: {', '.join(missing)} not installed (bash tests/slurm_cluster.sh install)")
    d = tmp_path_factory.mktemp('slurm')
    env = {**os.environ, 'PATH': os.environ['PATH'] + ':/usr/sbin:/sbin'}
    r = subprocess.run(['bash', SCRIPT, 'start', d], capture_output=True, text=True, timeout=240, env=env)
    if r.returncode:
        subprocess.run(['bash', SCRIPT, 'stop', d], env=env)
        pytest.skip(f'SLURM: the cluster did not start: {r.stderr.strip()[-400:]} (logs in {d}/log)')
    old = os.environ.get('SLURM_CONF'); os.environ['SLURM_CONF'] = str(d/'slurm.conf')
    yield d
    subprocess.run(['bash', SCRIPT, 'stop', d], env=env)
    if old is None: os.environ.pop('SLURM_CONF', None)
    else: os.environ['SLURM_CONF'] = old


def _wait(cond, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v: return v
        time.sleep(0.3)
    raise AssertionError(f'timed out after {timeout} s waiting for {what}')


@pytest.mark.slurm
def test_slurm_grid_cancel_one_task_then_resume(slurm, tmp_path, digits_study):
    "A 3-fold digits grid as one job array; scancel of a running task leaves it undone; the rerun redoes exactly it."
    p = write_study(tmp_path, "study: sl\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: 3\nexecutor: slurm\n"
                              "slurm: {time_min: 10, cpus_per_task: 1, mem_gb: 2, max_running: 2}\n" + TINY)
    sd, base = tmp_path/'runs'/'sl', tmp_path/'runs'/'sl'/'digits'/'cnn_small'/'base'
    proc = subprocess.Popen([VLAB, 'run', p, '--runs', tmp_path/'runs'], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait(lambda: list(base.glob('.fold0.partial-*')) and read_jobs(sd), 120, 'fold0 to start in SLURM')
    victim = read_jobs(sd)['digits/cnn_small/base/fold0']['job']
    subprocess.run(['scancel', victim], check=True)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, (out, err)                       # one failed run
    assert 'submitted 3 run(s) as SLURM job array' in out, out
    assert not (base/'fold0').exists() and (base/'fold1'/'DONE').exists() and (base/'fold2'/'DONE').exists()
    st = study_status(sd)
    assert list(st.state) == ['failed', 'done', 'done'], st
    assert st.slurm_state[0] == 'CANCELLED' and st.slurm_job[0] == victim, st
    cli = vlab('status', sd, check=True).stdout
    assert 'CANCELLED' in cli and '1 failed' in cli and '2 done' in cli, cli
    done_at = {k: (base/f'fold{k}'/'DONE').stat().st_mtime_ns for k in (1, 2)}
    r = vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    assert 'sl: 3 runs, 2 complete, 1 to run on SLURM' in r.stdout, r.stdout
    assert (base/'fold0'/'DONE').exists() and not list(base.glob('.*partial*'))
    assert {k: (base/f'fold{k}'/'DONE').stat().st_mtime_ns for k in (1, 2)} == done_at   # the finished runs were not redone
    # a run is the same whichever executor started it: the same files, and (same folds, seed, threads) the same OOF logits
    local = digits_study[0]/'digits'/'cnn_small'/'base'/'fold0'
    files = lambda d: sorted(str(f.relative_to(d)) for f in d.rglob('*') if f.is_file())
    assert files(base/'fold0') == files(local)
    pd.testing.assert_frame_equal(pd.read_parquet(base/'fold0'/'oof.parquet'), pd.read_parquet(local/'oof.parquet'))


@pytest.mark.slurm
def test_slurm_ctrl_c_cancels_only_its_array(slurm, tmp_path):
    "SIGINT while `vlab run` waits: its array is cancelled, another user's job is not."
    other = subprocess.run(['sbatch', '--parsable', '-o', '/dev/null', '--wrap', 'sleep 60'], capture_output=True, text=True, check=True).stdout.strip()
    p = write_study(tmp_path, "study: ci\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: 3\nexecutor: slurm\nslurm: {time_min: 10, max_running: 1}\n" + TINY)
    sd = tmp_path/'runs'/'ci'
    proc = subprocess.Popen([VLAB, 'run', p, '--runs', tmp_path/'runs'], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait(lambda: read_jobs(sd), 120, 'the array to be submitted')
    proc.send_signal(signal.SIGINT); out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and 'cancelled SLURM job array' in err, (out, err)
    jobs = [r['job'] for r in read_jobs(sd).values()]
    states = _wait(lambda: (s := slurm_states(jobs + [other])) and all(s.get(j) == 'CANCELLED' for j in jobs) and s, 60, 'the array to read CANCELLED')
    assert states[other] in ('RUNNING', 'PENDING'), states
    subprocess.run(['scancel', other])
    assert not any((sd/'digits'/'cnn_small'/'base'/f'fold{k}'/'DONE').exists() for k in range(3))


@pytest.mark.slurm
def test_slurm_runs_per_task_share_one_warm_worker(slurm, tmp_path, digits_study):
    "`slurm.runs_per_task: 3`: one array task runs all three folds through one warm worker, with the local grid's numbers."
    p = write_study(tmp_path, "study: rt\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: 3\nexecutor: slurm\n"
                              "slurm: {time_min: 10, cpus_per_task: 1, mem_gb: 2, runs_per_task: 3}\n" + TINY)
    r = vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    assert 'submitted 3 run(s) as SLURM job array' in r.stdout and '(1 task(s))' in r.stdout, r.stdout
    sd = tmp_path/'runs'/'rt'; jobs = read_jobs(sd)
    assert len(jobs) == 3 and len({j['job'] for j in jobs.values()}) == 1, jobs     # every run recorded under the one task
    assert list(study_status(sd).state) == ['done'] * 3
    for k in range(3):
        pd.testing.assert_frame_equal(pd.read_parquet(sd/'digits'/'cnn_small'/'base'/f'fold{k}'/'oof.parquet'),
                                      pd.read_parquet(digits_study[0]/'digits'/'cnn_small'/'base'/f'fold{k}'/'oof.parquet'))

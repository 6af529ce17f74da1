"""Defects a new user met (issue 5): unsafe names, unchecked task arguments, tracebacks for user errors,
numbers that change with --workers, two grids on one study, code run by loading a checkpoint."""
import os, signal, subprocess, time
from pathlib import Path
import pandas as pd, pytest, torch
from visionlab.data import make_demo_csv
from visionlab.train import load_checkpoint, CheckpointError
from conftest import VLAB, vlab, write_study, TINY


def one_line_error(r, *parts):
    "The process failed with exit code 2 and one `error:` line on stderr that contains every part."
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith('error: '), (r.returncode, r.stderr)
    for p in parts: assert p in lines[0], (p, lines[0])


def test_study_and_task_names_stay_inside_runs(tmp_path):
    (tmp_path/'a/b').mkdir(parents=True)
    p = write_study(tmp_path/'a/b', "study: ../../escaped\ntasks: [digits]\nbackbones: [cnn_small]\n" + TINY)
    one_line_error(vlab('run', p, '--runs', tmp_path/'a/b/runs', cwd=tmp_path/'a/b'), "'study' must be a plain folder name", "'../../escaped'")
    p = write_study(tmp_path/'a/b', "study: ok\ntasks: [digits, ../x]\nbackbones: [cnn_small]\n" + TINY)
    one_line_error(vlab('run', p, '--runs', tmp_path/'a/b/runs', cwd=tmp_path/'a/b'), "'tasks[1]' must be a plain folder name")
    assert sorted(x.name for x in tmp_path.rglob('*')) == ['a', 'b', 'study.yaml']   # nothing made anywhere


def test_user_input_errors_are_one_line_before_anything_is_written(tmp_path):
    runs = tmp_path/'runs'
    p = write_study(tmp_path, "study: s\ntasks: [fashion_mnist]\nbackbones: [cnn_small]\ntask_args: {fashion_mnist: {chanels: 1}}\n")
    one_line_error(vlab('run', p, '--dry_run', '--runs', runs, cwd=tmp_path), "'task_args.fashion_mnist': unknown argument 'chanels'")
    one_line_error(vlab('run', p, '--runs', runs, cwd=tmp_path), "unknown argument 'chanels'")
    p = write_study(tmp_path, "study: s\ntasks: [fashion_mnist_lt]\nbackbones: [cnn_small]\ntask_args: {fashion_mnist_lt: {ratio: ten}}\n")
    one_line_error(vlab('run', p, '--dry_run', '--runs', runs, cwd=tmp_path), "'task_args.fashion_mnist_lt.ratio' must be float")
    csv = make_demo_csv(tmp_path/'data', n_per_class=2, bad=False)
    pd.read_csv(csv).rename(columns={'label': 'class'}).to_csv(csv, index=False)      # a CSV without a `label` column
    p = write_study(tmp_path, f"study: s\ntasks: [csv]\nbackbones: [cnn_small]\ntask_args: {{csv: {{csv: {csv}, classes: [nominal]}}}}\n")
    one_line_error(vlab('run', p, '--runs', runs, cwd=tmp_path), str(csv), 'label')
    p.write_text("study: s\ntasks: [digits\nbackbones: [cnn_small]\n")                   # unreadable study file
    one_line_error(vlab('run', p, '--runs', runs, cwd=tmp_path), str(p), 'not valid YAML')
    one_line_error(vlab('run', tmp_path/'nope.yaml', cwd=tmp_path), 'study file not found', 'nope.yaml')
    assert not runs.exists()


def test_same_numbers_with_one_or_two_workers_warm_or_cold(tmp_path):
    "One warm worker, two warm workers, and a fresh papermill process per run (`--cold`) give bit-identical OOF and test logits."
    study = "study: det\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: 2\n" + TINY
    p = write_study(tmp_path, study)
    ways = {'w1': ['--workers', 1], 'w2': ['--workers', 2], 'cold': ['--workers', 2, '--cold']}
    outs = {name: vlab('run', p, *args, '--runs', tmp_path/name, cwd=tmp_path, check=True).stdout for name, args in ways.items()}
    for k in (0, 1):
        a, *others = (pd.read_parquet(tmp_path/f'{w}/det/digits/cnn_small/base/fold{k}/oof.parquet') for w in ways)
        for b in others: pd.testing.assert_frame_equal(a, b, check_exact=True)          # bit-identical logits
    assert '2 warm worker(s)' in outs['w2'] and '(cold)' in outs['cold']   # each path really ran


def test_one_grid_per_study(tmp_path):
    p = write_study(tmp_path, "study: locked\ntasks: [digits]\nbackbones: [cnn_small]\nfolds: 2\n"
                              "recipe: {epochs: 30, img_size: 16, batch_size: 64}\n")
    first = subprocess.Popen([VLAB, 'run', p, '--runs', tmp_path/'runs'], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = tmp_path/'runs/locked/digits/cnn_small/base'
    t0 = time.time()
    while not list(base.glob('.fold0.partial-*/worker.pid')):
        assert time.time() - t0 < 240 and first.poll() is None, 'first grid did not start'
        time.sleep(0.2)
    one_line_error(vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path),
                   f"study 'locked' is already running: PID {first.pid} holds {tmp_path/'runs/locked/.grid.lock'}")
    first.send_signal(signal.SIGKILL); first.wait()        # a killed grid leaves its lock file behind
    p.write_text(p.read_text().replace('epochs: 30', 'epochs: 1'))
    r = vlab('run', p, '--runs', tmp_path/'runs', cwd=tmp_path, check=True)
    assert f'taking over the grid lock left by PID {first.pid}' in r.stdout
    assert sorted(x.name for x in base.glob('fold*')) == ['fold0', 'fold1']


def test_loading_a_run_folder_runs_no_code(tmp_path, digits_study):
    study_dir, _ = digits_study
    model, params = load_checkpoint(study_dir/'digits/cnn_small/base/fold0/model.pt')   # a real checkpoint loads
    assert params['backbone'] == 'cnn_small' and model(torch.zeros(1, 1, 8, 8)).shape == (1, 10)
    marker = tmp_path/'pwned'
    class Evil:
        def __reduce__(self): return (os.system, (f'touch {marker}',))
    planted = tmp_path/'model.pt'; torch.save({'state_dict': {}, 'params': Evil()}, planted)
    with pytest.raises(CheckpointError, match=f'refusing to load {planted}'): load_checkpoint(planted)
    assert not marker.exists()

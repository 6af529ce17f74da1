"""Shared fixtures: tiny real studies (digits, Fashion-MNIST subsets) run through the real grid into temp folders."""
import contextlib, io, os, subprocess, sys
from pathlib import Path
import pytest

os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
VLAB = str(Path(sys.executable).parent/'vlab')
TINY = "recipe: {epochs: 2, img_size: 16, batch_size: 64, warmup_epochs: 0.3, eval_batch_size: 256}\n"


def pytest_addoption(parser):
    parser.addoption('--runslow', action='store_true', help='also run tests marked slow')


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: long test, run with --runslow')
    config.addinivalue_line('markers', 'slurm: runs jobs through a throw-away single-node SLURM (tests/slurm_cluster.sh); skipped where it cannot start')


def pytest_terminal_summary(terminalreporter):
    "Append every skipped test and its reason to `$VLAB_SKIPS`, the skip log `make test` summarises last."
    log = os.environ.get('VLAB_SKIPS')
    if not log: return
    with open(log, 'a') as f:
        for rep in terminalreporter.stats.get('skipped', []):
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            f.write(f"skipped: {rep.nodeid}: {reason.removeprefix('Skipped: ')}\n")


def pytest_collection_modifyitems(config, items):
    if config.getoption('--runslow'): return
    skip = pytest.mark.skip(reason='slow: use --runslow')
    for it in items:
        if 'slow' in it.keywords: it.add_marker(skip)


def vlab(*args, cwd=None, check=False, timeout=600, subprocess_=False):
    """Run `vlab <args>` (in `cwd`) and return a CompletedProcess: the console script's own entry point, called in this
    process (the imports are paid once per test session), or, with `subprocess_`, the console script itself."""
    argv = [VLAB, *map(str, args)]
    if subprocess_: r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=timeout)
    else:
        from visionlab.cli import vlab as entry
        out, err, rc, old = io.StringIO(), io.StringIO(), 0, (sys.argv, os.getcwd())
        try:
            sys.argv = argv; os.chdir(cwd or old[1])
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try: entry()
                except SystemExit as e:   # what the interpreter would print and return for `sys.exit(code)`
                    rc = e.code if isinstance(e.code, int) else (print(e.code, file=sys.stderr) or 1) if e.code is not None else 0
        finally: sys.argv = old[0]; os.chdir(old[1])
        r = subprocess.CompletedProcess(argv, rc, out.getvalue(), err.getvalue())
    if check and r.returncode: raise AssertionError(f'vlab {args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}')
    return r


def write_study(folder, text):
    p = Path(folder)/'study.yaml'; p.write_text(text); return p


@pytest.fixture(scope='session')
def digits_study(tmp_path_factory):
    "A real 3-fold x 2-backbone digits grid, run once per test session with 2 workers."
    d = tmp_path_factory.mktemp('digits')
    p = write_study(d, "study: tiny\ntasks: [digits]\nbackbones: [cnn_small, resnet_small]\nfolds: 3\n" + TINY)
    r = vlab('run', p, '--workers', 2, '--runs', d/'runs', cwd=d, check=True)
    return d/'runs'/'tiny', r

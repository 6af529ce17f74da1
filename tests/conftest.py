"""Shared fixtures: tiny real studies (digits, Fashion-MNIST subsets) run through the real grid into temp folders."""
import os, subprocess, sys
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


def pytest_collection_modifyitems(config, items):
    if config.getoption('--runslow'): return
    skip = pytest.mark.skip(reason='slow: use --runslow')
    for it in items:
        if 'slow' in it.keywords: it.add_marker(skip)


def vlab(*args, cwd=None, check=False, timeout=600):
    "Run the `vlab` console script of this environment; returns the CompletedProcess."
    r = subprocess.run([VLAB, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)
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

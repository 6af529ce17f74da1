"""Shared fixtures: tiny real studies (digits, Fashion-MNIST subsets) run through the real grid into temp folders."""
import fcntl, json, os, shutil, subprocess, sys
from pathlib import Path
import pytest, yaml

os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
VLAB = str(Path(sys.executable).parent/'vlab')
HEAVY = ('slow', 'slurm', 'browser', 'latex')   # markers of the thorough suite, `make test-slow`
TINY = "recipe: {epochs: 2, img_size: 8, batch_size: 64, warmup_epochs: 0.3, eval_batch_size: 256}\n"


def pytest_addoption(parser):
    parser.addoption('--runslow', action='store_true', help='also run the heavy tests: marked slow, slurm, browser or latex (make test-slow)')


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: long test, run with --runslow')
    config.addinivalue_line('markers', 'slurm: runs jobs through a throw-away single-node SLURM (tests/slurm_cluster.sh); skipped where it cannot start')
    config.addinivalue_line('markers', "browser: drives Debian's headless Chromium; skipped where it is not installed")
    config.addinivalue_line('markers', "latex: compiles with Debian's texlive (pdflatex); skipped where it is not installed")


def _append_new(log, lines):
    "Append to file `log` the `lines` it does not hold yet (the summary hook can run twice under xdist)."
    old = set(Path(log).read_text().splitlines()) if Path(log).exists() else set()
    with open(log, 'a') as f: f.writelines(l + '\n' for l in dict.fromkeys(lines) if l not in old)


def pytest_terminal_summary(terminalreporter):
    "Append each skipped test and its reason to `$VLAB_SKIPS` (the skip log `make test` summarises last), and each phase's seconds to `$VLAB_DURATIONS`."
    stats = terminalreporter.stats
    if log := os.environ.get('VLAB_SKIPS'):
        reason = lambda r: (r.longrepr[2] if isinstance(r.longrepr, tuple) else str(r.longrepr)).removeprefix('Skipped: ')
        _append_new(log, [f'skipped: {r.nodeid}: {reason(r)}' for r in stats.get('skipped', [])])
    if log := os.environ.get('VLAB_DURATIONS'):
        _append_new(log, [f'{r.duration:.1f}\tpytest {r.when}\t{r.nodeid}' for k in ('passed', 'failed', 'error', 'skipped')
                          for r in stats.get(k, []) if hasattr(r, 'duration')])


# The files that run grids and papers, longest first (CPU seconds of setup + calls, one at a time on a 2-core AMD EPYC:
# designs 160, regularisers 70, new_user 65, foundation 60, calibrate 50, grid_resume 40, pairs 35, segment 31,
# longtail 30, paper 30). `make test` hands whole files to 2 workers in this order (`--dist loadfile
# --no-loadscope-reorder`), so the last file a worker takes is a short one and neither core idles at the end.
LONGEST_FIRST = ['test_designs.py', 'test_regularisers.py', 'test_new_user.py', 'test_foundation.py', 'test_calibrate.py',
                 'test_grid_resume.py', 'test_pairs.py', 'test_segment.py', 'test_longtail.py', 'test_paper.py']


def pytest_collection_modifyitems(config, items):
    """The files of `LONGEST_FIRST` first, in that order (the rest after them, each file's tests in their own order); without
    --runslow the heavy tests are deselected (they are `make test-slow`), so a skip always means a missing tool."""
    rank = {f: k for k, f in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda it: rank.get(it.path.name, len(rank)))
    if config.getoption('--runslow'): return
    heavy = [it for it in items if any(m in it.keywords for m in HEAVY)]
    if heavy: config.hook.pytest_deselected(items=heavy); items[:] = [it for it in items if it not in heavy]


def vlab(*args, cwd=None, check=False, timeout=600, subprocess_=False):
    """Run `vlab <args>` (in `cwd`) and return a CompletedProcess: through the console script's entry point in this
    process (`visionlab.cli.vlab_here`: the imports are paid once per test session), or, with `subprocess_`, as the
    console script itself."""
    if subprocess_: r = subprocess.run([VLAB, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)
    else:
        from visionlab.cli import vlab_here
        r = vlab_here(*args, cwd=cwd)
    if check and r.returncode: raise AssertionError(f'vlab {args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}')
    return r


def headless_chromium(height:int=900, console_log:bool=False):
    "Headless Debian Chromium driven by selenium (1280 x `height`, optionally keeping the console log), or a skip naming what is missing."
    webdriver = pytest.importorskip('selenium.webdriver', reason='selenium is not installed (pip install -r requirements.lock)')
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    chromium, driver = shutil.which('chromium') or shutil.which('chromium-browser'), shutil.which('chromedriver')
    if not (chromium and driver): pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    o = Options(); o.binary_location = chromium
    for a in ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', f'--window-size=1280,{height}']: o.add_argument(a)
    if console_log: o.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    return webdriver.Chrome(service=Service(driver), options=o)


def write_study(folder, text):
    p = Path(folder)/'study.yaml'; p.write_text(text); return p


def shared_study(tmp_path_factory, name, text, workers=2):
    """Run study `text` once per test session, whatever the number of xdist workers (the first to take the lock runs it,
    the others wait and read it), and return (runs/<study>, the run's CompletedProcess). Shared read-only: a test that
    changes run folders copies them first."""
    base = tmp_path_factory.getbasetemp()
    d = (base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base)/f'shared-{name}'
    d.mkdir(exist_ok=True)
    with open(d/'.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (d/'run.json').exists():
            r = vlab('run', write_study(d, text), '--workers', workers, '--runs', d/'runs', cwd=d, check=True)
            (d/'run.json').write_text(json.dumps(dict(args=list(map(str, r.args)), stdout=r.stdout, stderr=r.stderr)))
        r = json.loads((d/'run.json').read_text())
    study = yaml.safe_load(text)['study']
    return d/'runs'/study, subprocess.CompletedProcess(r['args'], 0, r['stdout'], r['stderr'])


@pytest.fixture(scope='session')
def digits_study(tmp_path_factory):
    "A real 3-fold x 2-backbone digits grid, run once per test session (across xdist workers) with 2 workers."
    return shared_study(tmp_path_factory, 'digits', "study: tiny\ntasks: [digits]\nbackbones: [cnn_small, resnet_small]\nfolds: 3\n" + TINY)

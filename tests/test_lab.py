"""`make lab`: the Jupyter kernel that `make env` registers runs this environment's Python and executes a notebook that
uses the package, so a newcomer can open nbs/ in JupyterLab and run a notebook without setup. The slow test starts
JupyterLab itself, as `make lab` does, and asks its server for the kernel."""
import json, os, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = 'visionlab'   # the name `make env` registers (Makefile: KERNEL)


def test_make_env_registers_this_environment_as_a_kernel():
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try: spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel: pytest.fail(f"no Jupyter kernel '{KERNEL}': `make env` registers it (python -m ipykernel install --sys-prefix --name {KERNEL})")
    assert Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve()), spec.resource_dir   # inside .venv
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve(), spec.argv
    assert spec.display_name == 'visionlab (.venv)' and spec.language == 'python'


def test_the_kernel_runs_a_notebook_that_uses_the_package(tmp_path):
    "nbclient executes a small notebook on the `visionlab` kernel in nbs/'s place: it imports the package from lib/ and runs a library function."
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'import sys, visionlab\nfrom visionlab.losses import softmax\nprint(sys.prefix)\nprint(visionlab.__file__)\nprint(softmax([[0.0, 0.0]]).tolist())')])
    NotebookClient(nb, kernel_name=KERNEL, timeout=300, resources={'metadata': {'path': str(ROOT/'nbs')}}).execute()
    prefix, module, probs = nb.cells[0].outputs[0]['text'].split('\n')[:3]
    assert Path(prefix).resolve() == Path(sys.prefix).resolve()
    assert Path(module).resolve().is_relative_to(ROOT/'lib'/'visionlab') and probs == '[[0.5, 0.5]]'


def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.mark.slow
def test_jupyterlab_serves_nbs_with_the_kernel(tmp_path):
    "JupyterLab started as `make lab` starts it (no browser, a free port; --allow-root as root) lists the kernel, makes it the default and opens nbs/."
    port, token = _free_port(), 'vlab-test'
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path/'runtime'), JUPYTER_CONFIG_DIR=str(tmp_path/'config'))
    p = subprocess.Popen([str(Path(sys.executable).parent/'jupyter'), 'lab', '--ServerApp.root_dir=nbs',
                          f'--MappingKernelManager.default_kernel_name={KERNEL}', '--no-browser', '--ServerApp.ip=127.0.0.1',
                          f'--ServerApp.port={port}', f'--IdentityProvider.token={token}', *(['--allow-root'] if os.getuid() == 0 else [])], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=open(tmp_path/'lab.log', 'w'))
    get = lambda path: urllib.request.urlopen(f'http://127.0.0.1:{port}{path}{"&" if "?" in path else "?"}token={token}', timeout=10)
    try:
        for _ in range(120):
            try: specs = json.load(get('/api/kernelspecs')); break
            except OSError: time.sleep(0.5)
            if p.poll() is not None: pytest.fail(f"JupyterLab exited ({p.returncode}): {(tmp_path/'lab.log').read_text()[-2000:]}")
        else: pytest.fail('JupyterLab did not answer in 60 s')
        assert specs['default'] == KERNEL and KERNEL in specs['kernelspecs'], specs
        assert get('/lab').status == 200
        names = {c['name'] for c in json.load(get('/api/contents/'))['content']}
        assert {'index.ipynb', 'architecture.ipynb', 'tasks'} <= names, names
    finally:
        p.terminate(); p.wait(timeout=30)

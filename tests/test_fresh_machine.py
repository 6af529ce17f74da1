"""A machine with only what `make env` installs: checks that need an optional system tool skip with their reason."""
import os, subprocess, sys
from pathlib import Path

ROOT, BIN = Path(__file__).parents[1], Path(sys.executable).parent
SLURM_TOOLS = {'srun', 'sbatch', 'squeue', 'sacct', 'scancel', 'sinfo', 'salloc', 'scontrol'}


def path_without(tools, farm:Path) -> str:
    "A PATH of one folder, `farm`, linking every program of today's PATH except `tools` (the first of each name wins)."
    farm.mkdir()
    for d in os.environ['PATH'].split(os.pathsep):
        if not Path(d).is_dir(): continue
        for f in Path(d).iterdir():
            if f.name in tools or (farm/f.name).exists() or not (f.is_file() and os.access(f, os.X_OK)): continue
            (farm/f.name).symlink_to(f)
    return str(farm)


def test_grid_notebook_passes_without_slurm(tmp_path):
    "nbs/11_grid's tests pass with SLURM's programs removed from the PATH: the #SBATCH check skips, says why, and is logged."
    env = {**os.environ, 'PATH': path_without(SLURM_TOOLS, tmp_path/'bin'), 'VLAB_SKIPS': str(tmp_path/'skips.txt')}
    r = subprocess.run([str(BIN/'nbdev_test'), '--path', 'nbs/11_grid.ipynb'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert (tmp_path/'skips.txt').read_text().splitlines() == [
        'skipped: the #SBATCH header check of slurm_executor (submitit builds a SLURM executor only where SLURM is installed) (srun is not on the PATH)']

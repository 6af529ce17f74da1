"""environment.yml (conda) and settings.ini (pip) describe the same package set."""
import configparser, re
from pathlib import Path
import yaml

ROOT = Path(__file__).parents[1]


def names(reqs): return {re.split(r'[<>=!~ ]', r, 1)[0].lower() for r in reqs}


def test_conda_and_pip_requirements_match():
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    pip = cfg['DEFAULT']['requirements'].split()
    env = yaml.safe_load((ROOT/'environment.yml').read_text())
    conda_pip = [r for r in next(d["pip"] for d in env["dependencies"] if isinstance(d, dict)) if not r.startswith("-")]
    assert names(pip) == names(conda_pip)
    assert set(pip) == set(conda_pip)   # same pins too

"""The front door: README.md is what nbs/index.ipynb makes from the committed paper/ tables (so its numbers cannot drift),
it stays short and its links resolve; the guide pages claim no number the committed files do not hold; the site's
builder covers every notebook, module and figure. Building and browsing the site: tests/test_docs_site.py."""
import importlib.util, json, re, sys
from pathlib import Path
import pandas as pd, pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('make_docs', ROOT/'docs'/'make_docs.py')
make_docs = importlib.util.module_from_spec(spec); sys.modules['make_docs'] = make_docs; spec.loader.exec_module(make_docs)
LINK = re.compile(r'\]\(([^)\s]+)\)')


def test_readme_is_generated_from_index_notebook_and_paper_csvs():
    "README.md equals the markdown of nbs/index.ipynb executed on the committed paper/ CSVs (`make readme`), in at most 10 KB."
    readme = (ROOT/'README.md').read_text()
    assert len(readme.encode()) <= make_docs.README_MAX, f'README.md is {len(readme.encode())} bytes'
    assert readme == make_docs.readme_text(), 'README.md is stale: run `make readme` (nbs/index.ipynb or paper/*/tables/*.csv changed)'


def test_readme_table_reads_the_csvs():
    "The results-at-a-glance rows quote the CSVs: the best OOF row of each summary, with its test CI from risk.csv."
    readme = (ROOT/'README.md').read_text()
    s = pd.read_csv(ROOT/'paper/fmnist/tables/summary.csv'); best = s.loc[s.acc_mean.idxmax()]
    r = pd.read_csv(ROOT/'paper/fmnist/tables/risk.csv').set_index('model').loc[best.model]
    assert f'| `{best.model}` | acc | {best.acc_mean:.4f} ± {best.acc_std:.4f} | {best.test_acc:.4f} [{r.acc_lo:.4f}, {r.acc_hi:.4f}] |' in readme
    headline = [f'{n}.csv' for n in ('summary', 'longtail', 'anomaly', 'segmentation', 'fewshot')]
    studies = {p.relative_to(ROOT/'paper').parts[0] for p in [*ROOT.glob('paper/*/tables/*.csv'), *ROOT.glob('paper/*/*/tables/*.csv')] if p.name in headline}
    assert len(studies) >= 10 and all(f'](paper/{s}/' in readme for s in studies), studies   # every study with a headline table has a row


def test_readme_links_resolve_and_it_says_how_to_start():
    readme = (ROOT/'README.md').read_text()
    local = [l.split('#')[0] for l in LINK.findall(readme) if not l.startswith(('http://', 'https://', '#', 'mailto:'))]
    assert local and all((ROOT/l).exists() for l in local), [l for l in local if not (ROOT/l).exists()]
    for must in ['make env', 'source .venv/bin/activate', 'make run', 'make test', 'make lab', 'make docs',
                 'vlab init my_photos --images path/to/photos', 'vlab run params/my_photos.yaml',
                 'vlab predict runs/my_photos --images path/to/new --out predictions.csv']:
        assert must in readme, must


def _guide_pages(): return [ROOT/'README.md', *sorted((ROOT/'docs').glob('*.md'))]


def test_guide_sends_no_one_to_what_users_do_not_have():
    "No page refers a user to notes of a work session or to issue numbers they cannot read."
    for p in _guide_pages():
        text = p.read_text()
        for bad in [r'stop notes?', r'issue notes', r'\bissue \d+', r'issue\s+#\d+', r'next issue']:
            assert not re.search(bad, text, re.I), (p.name, bad)


# Numbers on the guide pages that are not results of this repository: each with where it comes from.
EXTERNAL = {'0.926': 'Fashion-MNIST benchmark, HOG+SVM', '0.939': 'Fashion-MNIST benchmark, AutoML', '0.945': "fmnist study's goal"}


def _committed_values() -> set:
    "Every number in paper/**/*.csv and paper/**/*.json, as text rounded to 2, 3 and 4 decimals."
    vals = []
    for p in (ROOT/'paper').rglob('*.csv'):
        d = pd.read_csv(p)
        vals += [v for c in d.columns if pd.api.types.is_numeric_dtype(d[c]) for v in d[c].dropna()]
    def walk(o):
        if isinstance(o, dict): [walk(v) for v in o.values()]
        elif isinstance(o, list): [walk(v) for v in o]
        elif isinstance(o, (int, float)) and not isinstance(o, bool): vals.append(o)
    for p in (ROOT/'paper').rglob('*.json'): walk(json.loads(p.read_text()))
    return {f'{v:.{n}f}' for v in vals for n in (2, 3, 4)}


def test_guide_numbers_are_in_the_committed_files():
    """Every accuracy-like number (0.ddd or 0.dddd) on README.md and docs/*.md is a value of a committed paper/ CSV or JSON
    (rounded as written), or a listed outside number: no page claims a result the files do not show."""
    known, bad = _committed_values(), []
    for p in _guide_pages():
        for n in re.findall(r'(?<![\d.])0\.\d{3,4}(?!\d)', p.read_text()):
            if n not in known and n not in EXTERNAL: bad.append(f'{p.relative_to(ROOT)}: {n}')
    assert not bad, bad


def test_site_covers_every_notebook_module_and_figure():
    "The navigation lists every library and task notebook and an API page per module; the gallery shows every paper/ PNG with its note."
    nav = json.dumps(make_docs.nav())
    for p in make_docs.library_notebooks(): assert f'nbs/{p.name}' in nav, p
    for p in sorted((ROOT/'nbs'/'tasks').glob('*.ipynb')): assert f'nbs/tasks/{p.name}' in nav, p
    mods = sorted(p.stem for p in (ROOT/'lib'/'visionlab').glob('*.py') if not p.stem.startswith('_'))
    assert sorted(m for m, _, _ in make_docs.modules()) == mods
    for m in mods: assert f'api/{m}.md' in nav and f'::: visionlab.{m}' in make_docs.api_pages()[f'api/{m}.md'], m
    guide = {p.name for p in (ROOT/'docs').glob('*.md')} - {'results.md'}
    assert guide == set(make_docs.GUIDE), guide ^ set(make_docs.GUIDE)
    from visionlab.report import ASSET_NOTES
    gallery = make_docs.gallery_page()
    for p in (ROOT/'paper').rglob('*.png'):
        rel = str(p.relative_to(ROOT))
        assert f'src="{rel}"' in gallery, rel
        if p.stem in ASSET_NOTES: assert ASSET_NOTES[p.stem].split(' (')[0][:40] in gallery.replace('&#x27;', "'"), p.stem


def test_notebook_pages_hide_nbdev_machinery():
    "A docs page drops `#| hide` and `#| default_exp` cells and `#| export` lines, keeps flags like `#| slow`, and turns TeX into MathML."
    nb = dict(cells=[dict(cell_type='code', source='#| default_exp x', outputs=[], metadata={}),
                     dict(cell_type='markdown', source='# T\n\nwith $\\tau$', metadata={}),
                     dict(cell_type='code', source='#| hide\nimport os', outputs=[], metadata={}),
                     dict(cell_type='code', source='#| export\ndef f(): pass', outputs=[], metadata={}, execution_count=3),
                     dict(cell_type='code', source='#| slow\nfit()', outputs=[], metadata={})], metadata={}, nbformat=4, nbformat_minor=5)
    page = make_docs.page_notebook(nb)
    assert [c['source'] for c in page['cells'] if c['cell_type'] == 'code'] == ['def f(): pass', '#| slow\nfit()']
    assert '<math' in page['cells'][0]['source'] and '$' not in page['cells'][0]['source']
